package io.tokenwell;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared conformance vectors (tests/vectors/README.md): every case of vectors.json, read from
 * the repository, with the same statuses, values, list order and the REPLACED rename on the same
 * handle as libtokenwell.
 */
class SegmentVectorsTest {
  @TempDir Path tmp;

  private static JsonObject vectors() throws IOException {
    return JsonParser.parseString(Files.readString(TestPaths.vectors().resolve("vectors.json")))
        .getAsJsonObject();
  }

  @Test
  void everyCommittedFileHasACase() throws IOException {
    List<String> files = new ArrayList<>();
    for (JsonElement c : vectors().getAsJsonArray("cases")) {
      files.add(c.getAsJsonObject().get("file").getAsString());
    }
    try (Stream<Path> seg = Files.list(TestPaths.vectors())) {
      seg.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".seg"))
          .forEach(n -> assertTrue(files.contains(n) || isReplacement(n), n + " has no case"));
    }
    assertTrue(files.size() >= 20, "only " + files.size() + " cases");
  }

  private static boolean isReplacement(String file) {
    return file.equals("replaced-new.seg");
  }

  @TestFactory
  Stream<DynamicTest> everyCase() throws IOException {
    List<DynamicTest> tests = new ArrayList<>();
    for (JsonElement e : vectors().getAsJsonArray("cases")) {
      JsonObject c = e.getAsJsonObject();
      String file = c.get("file").getAsString();
      tests.add(DynamicTest.dynamicTest(file, () -> runCase(c)));
    }
    return tests.stream();
  }

  private void runCase(JsonObject c) throws IOException {
    Path dir = Files.createTempDirectory(tmp, "case");
    TestPaths.install(TestPaths.vectors().resolve(c.get("file").getAsString()), dir);
    Code open = Code.valueOf(c.get("open").getAsString());
    if (open != Code.OK) {
      TokenwellException e = assertThrows(TokenwellException.class, () -> Tokenwell.open(dir));
      assertEquals(open, e.code(), e.getMessage());
      assertTrue(e.getMessage().contains(dir.toString()), "the error names the file: " + e);
      return;
    }
    try (Tokenwell tw = Tokenwell.open(dir)) {
      if (c.has("agent")) {
        JsonObject agent = c.getAsJsonObject("agent");
        assertEquals(new Tokenwell.AgentInfo(agent.get("pid").getAsInt(),
            agent.get("heartbeat_ms").getAsLong()), tw.agentInfo());
      }
      List<String> list = new ArrayList<>();
      c.getAsJsonArray("list").forEach(n -> list.add(n.getAsString()));
      assertEquals(list, tw.list());
      checkReads(tw, c.getAsJsonArray("reads"));
      if (c.has("replaced_by")) {
        TestPaths.install(TestPaths.vectors().resolve(c.get("replaced_by").getAsString()), dir);
        checkReads(tw, c.getAsJsonArray("reads_after_replace"));
      }
    }
  }

  private static void checkReads(Tokenwell tw, JsonArray reads) {
    for (JsonElement e : reads) {
      JsonObject r = e.getAsJsonObject();
      String name = r.get("name").getAsString();
      boolean keyset = r.get("as").getAsString().equals("keyset");
      Code status = Code.valueOf(r.get("status").getAsString());
      String what = name + " as " + r.get("as").getAsString();
      if (status == Code.OK) {
        if (keyset) {
          Keyset k = tw.readKeyset(name);
          assertEquals(r.get("secret").getAsString(), k.signingKey(), what);
          assertEquals(r.get("public").getAsString(), k.jwks(), what);
          assertEquals(r.get("generation").getAsLong(), k.generation(), what);
          assertEquals("", r.get("username").getAsString(), what);
          assertFalse(k.toString().contains("\"d\""), "toString hides the private key");
        } else {
          Credential cr = tw.read(name);
          assertEquals(r.get("username").getAsString(), cr.username(), what);
          assertEquals(r.get("secret").getAsString(), cr.token(), what);
          assertEquals("", r.get("public").getAsString(), what);
          assertEquals(r.get("expires_at").getAsLong(), cr.expiresAt(), what);
          assertEquals(r.get("generation").getAsLong(), cr.generation(), what);
          assertFalse(cr.toString().contains(cr.token()), "toString hides the token");
        }
        continue;
      }
      try {
        Object got = keyset ? tw.readKeyset(name) : tw.read(name);
        fail(what + ": expected " + status + ", read " + got);
      } catch (TokenwellException ex) {
        assertEquals(status, ex.code(), what + ": " + ex.getMessage());
        assertTrue(ex.getMessage().contains(name), "the error names the entry: " + ex.getMessage());
        if (status == Code.ENOVALUE) {
          assertEquals(r.get("expires_at").getAsLong(), ex.expiresAt(), what);
          assertEquals(r.get("generation").getAsLong(), ex.generation(), what);
        }
      }
    }
  }
}
