#!/usr/bin/env python3
"""Checks every code snippet in README.md, docs/*.md and the CLI reference
(client-shim/cli/README.md) against the real thing.

Each fenced block is handled by its language and an optional mode in the
fence's info string (```json doc-check=config):

  doc-check=skip      an illustration (Azure CLI, kubectl, Dockerfiles, other
                      languages' code): not run, on purpose; counted.
  doc-check=run       sh: every command is run against a live agent (below).
  doc-check=config    json: a whole agent config: `--check-config` must accept
                      it and so must the agent's JSON Schema.
  doc-check=fragment  json: one credential or keyset (or a list of them):
                      checked as a config holding it.
  doc-check=values    yaml: chart values: `helm template` (schema enforced)
                      and the rendered agent.json through `--check-config`.
  doc-check=manifest  yaml: a Kubernetes object: parsed, apiVersion and kind.
  doc-check=output    json: a shown answer: must parse.
  doc-check=message   text: each line is a message the code prints: its
                      literal parts (split at "…") must occur in the sources
                      or in the output of the real runs of run_cases().

Without a mode: json is a config if its top-level keys are config keys, a
fragment if it has "source"; yaml is values if its top-level keys are the
chart's; sh is run if every command is `tokenwell …` or `curl … --unix-socket`;
text and unlabelled blocks are prose. Any other unmarked block fails the
check: mark it, so nothing goes unchecked by accident.

The table after a `<!-- doc-check: messages -->` comment has its
backticked spans checked as messages (spans starting with a prefix listed
in the comment, `(external: AADSTS | WRONGPASS)`, come from other programs).

Links: every relative link must reach a file, and its #anchor a heading.

Coverage: every route of agent/src/api/socket_routes.cpp must be in
docs/socket-api.md, every command and option of the CLI in its README.

The live agent: the Entra stand-in (tests/fakes/entra_standin.py) with
6-second tokens, an agent with credential `redis` (entra) and keysets
`sessions` (generated) and `entra-keys` (jwks), TOKENWELL_DIR set, the CLI on
PATH; `$REDIS_HOST`-style Azure variables are not set, so such lines must be
marked skip.

  doc-check.py --agent PATH --cli PATH --helm PATH [--python PATH]
"""
import argparse
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import jsonschema
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(\s*)```(\S*)\s*(.*)$")
CONFIG_KEYS = {"runtime_dir", "listen", "log", "allow", "credentials", "keysets"}
SOURCE_DIRS = ["agent/src", "client-shim", "helm/tokenwell/templates", "injector"]
SOURCE_EXT = {".c", ".cc", ".cpp", ".h", ".hpp", ".py", ".js", ".txt", ".tpl", ".yaml"}
# --check-config checks that files exist; snippets name pod paths.
UNREADABLE = re.compile(r": (file|directory) not readable \(")


class Failure(Exception):
    pass


def snippets(path):
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang, info = m.group(1), m.group(2), m.group(3)
        body = []
        start = i + 1
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        i += 1
        mode = None
        mm = re.search(r"doc-check=(\S+)", info)
        if mm:
            mode = mm.group(1)
        yield start, lang, mode, "\n".join(body)


def message_tables(path):
    """(line, spans, external prefixes) of each table after a messages marker."""
    lines = path.read_text().splitlines()
    for n, line in enumerate(lines):
        m = re.match(r"<!-- doc-check: messages(?: \(external: ([^)]*)\))? -->", line.strip())
        if not m:
            continue
        # Prefixes of other programs' messages, separated by "|".
        external = [e.strip() for e in (m.group(1) or "").split("|") if e.strip()]
        j = n + 1
        while j < len(lines) and not lines[j].startswith("|"):
            j += 1
        while j < len(lines) and lines[j].startswith("|"):
            first = lines[j].split("|")[1]
            for span in re.findall(r"`([^`]+)`", first):
                yield j + 1, span, external
            j += 1


def run_cases(agent, cli, work):
    """Real runs whose messages the docs quote (paths shown as the pod's)."""
    out = []
    case = work / "cases"
    case.mkdir()
    no_env = {"PATH": os.environ["PATH"]}
    cfg = case / "entra.json"
    cfg.write_text('{"credentials": [{"name": "redis", "source": "entra"}]}')
    out.append(subprocess.run([agent, "--config", str(cfg), "--check-config"], capture_output=True, text=True,
                              env=no_env).stderr)
    cfg.write_text('{"credentials": [{"name": "r", "source": "file", "path": "/x", "refresh": {"ratio": 1.5}}]}')
    out.append(subprocess.run([agent, "--config", str(cfg), "--check-config"], capture_output=True, text=True).stderr)
    # A segment the app cannot read: written by an agent, read as another uid.
    run = case / "run"
    secret = case / "password"
    secret.write_text("s3cret\n")
    cfg.write_text(json.dumps({"runtime_dir": str(run), "listen": "",
                               "credentials": [{"name": "redis", "source": "file", "path": str(secret)}]}))
    subprocess.run([agent, "--config", str(cfg), "--once"], check=True, capture_output=True)
    os.chmod(run / "segment", 0o600)
    os.chmod(run, 0o755)
    os.chmod(case, 0o755)
    os.chmod(work, 0o755)
    if os.geteuid() == 0 and shutil.which("setpriv"):
        out.append(subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                                   cli, "--dir", str(run), "get", "redis"], capture_output=True, text=True).stderr)
    empty = case / "empty"
    empty.mkdir()
    out.append(subprocess.run([cli, "--dir", str(empty), "get", "redis"], capture_output=True, text=True).stderr)
    # The CLI without libtokenwell-jwt: a copy without RUNPATH, libtokenwell only.
    bare = case / "tokenwell"
    shutil.copy(cli, bare)
    (case / "rpath.cmake").write_text(f'file(RPATH_REMOVE FILE "{bare}")\n')
    subprocess.run(["cmake", "-P", str(case / "rpath.cmake")], check=True, capture_output=True)
    libdir = case / "lib"
    libdir.mkdir()
    for lib in pathlib.Path(cli).resolve().parent.parent.glob("libtokenwell.so.0*"):
        shutil.copy(lib, libdir)
    out.append(subprocess.run([str(bare), "--dir", str(run), "jwt", "sign", "k", "--claims", "{}"],
                              capture_output=True, text=True, env=dict(os.environ, LD_LIBRARY_PATH=str(libdir))).stderr)
    text = "\n".join(out)
    for d in (run, empty):
        text = text.replace(str(d), "/run/tokenwell")
    return text


class Sources:
    def __init__(self, outputs=""):
        texts = []
        for d in SOURCE_DIRS:
            for p in (ROOT / d).rglob("*"):
                if p.is_file() and p.suffix in SOURCE_EXT and "node_modules" not in p.parts:
                    texts.append(p.read_text(errors="replace"))
        raw = "\n".join(texts)
        self.text = raw + "\n" + raw.replace('\\"', '"').replace("\\n", "\n") + "\n" + outputs

    def has_message(self, message):
        parts = [p.strip() for p in re.split(r"…|\.\.\.|<[^>]+>", message)]
        parts = [p for p in parts if len(p) >= 4]
        if not parts:
            raise Failure(f"message {message!r} has no literal part to look for")
        missing = [p for p in parts if p not in self.text]
        if missing:
            raise Failure(f"message {message!r}: not in the sources: {missing}")


class Agent:
    """The Entra stand-in and an agent publishing into a temporary directory."""

    def __init__(self, agent, cli, python, work):
        self.agent, self.cli, self.work = agent, cli, work
        self.procs = []
        work.mkdir(parents=True)
        standin_dir = work / "standin"
        self._spawn("standin", [python, str(ROOT / "tests/fakes/entra_standin.py"), "--port", "0",
                                "--state-dir", str(standin_dir), "--token-lifetime", "6"])
        state = self._wait("the Entra stand-in", lambda: json.loads((standin_dir / "standin.json").read_text()))
        self.run_dir = work / "run"
        config = {
            "runtime_dir": str(self.run_dir), "listen": "127.0.0.1:0", "log": {"level": "warn"},
            "credentials": [{
                "name": "redis", "source": "entra", "tenant_id": state["tenant"],
                "client_id": state["client_id"], "authority_host": state["base_url"], "ca_file": state["ca_file"],
                "auth": {"method": "client_secret", "secret_file": state["files"]["client_secret"]},
                "refresh": {"min_remaining": "1s", "retry_min": "100ms", "retry_max": "1s", "timeout": "2s"}}],
            "keysets": [
                {"name": "sessions", "source": "generated", "algorithm": "ES256"},
                {"name": "entra-keys", "source": "jwks", "issuer": f"{state['base_url']}{state['tenant']}/v2.0",
                 "ca_file": state["ca_file"], "timeout": "2s"}],
        }
        (work / "agent.json").write_text(json.dumps(config))
        self._spawn("agent", [agent, "--config", str(work / "agent.json")])
        self.env = dict(os.environ, TOKENWELL_DIR=str(self.run_dir),
                        PATH=f"{pathlib.Path(cli).parent}:{os.environ['PATH']}")
        self._wait("the agent's first token", lambda: subprocess.run(
            [cli, "--dir", str(self.run_dir), "get", "redis"], capture_output=True).returncode == 0 or None)

    def _spawn(self, name, argv):
        log = open(self.work / f"{name}.log", "w")
        self.procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def _wait(self, what, fn, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                v = fn()
                if v:
                    return v
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise Failure(f"timed out waiting for {what}; logs in {self.work}")

    def close(self):
        for p in reversed(getattr(self, "procs", [])):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=10)


def commands(body):
    """The shell commands of a block: continuations joined, comments dropped."""
    out, cur = [], ""
    for line in body.splitlines():
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        stripped = cur.strip()
        if stripped and not stripped.startswith("#"):
            out.append(stripped)
        cur = ""
    return out


def runnable(cmd):
    try:
        words = shlex.split(cmd, comments=True)
    except ValueError:  # not shell syntax on its own (a heredoc, a multi-line quote)
        return False
    if words and re.match(r"^\w+=\$\(tokenwell ", cmd):  # token=$(tokenwell jwt sign …)
        return True
    return bool(words) and (words[0] == "tokenwell" or (words[0] == "curl" and "--unix-socket" in words))


def schema_examples(schema):
    """(what, config) for every key's example in the agent's schema, each in
    the smallest config that holds it (required keys from their examples)."""
    defs = schema["definitions"]

    def exactly_one(o):
        return [[r["required"][0] for r in o["oneOf"]]] if "oneOf" in o else []

    def at_most_one(o):
        return [sorted({k for a in o["not"]["anyOf"] for k in a["required"]})] if "anyOf" in o.get("not", {}) else []

    def variants(d):
        """(selector, value, properties, required, exactly-one groups, at-most-one groups) per variant."""
        if "allOf" not in d:
            yield None, None, d.get("properties", {}), d.get("required", []), exactly_one(d), at_most_one(d)
            return
        for b in d["allOf"]:
            (sel, cond), = b["if"]["properties"].items()
            t = b["then"]
            props = {**d["properties"], **{k: v for k, v in t["properties"].items() if v is not True}}
            yield (sel, cond["const"], props, d.get("required", []) + t.get("required", []),
                   exactly_one(d) + exactly_one(t), at_most_one(d) + at_most_one(t))

    def objects(name):
        for sel, value, props, required, exactly, at_most in variants(defs[name]):
            base = {sel: value} if sel else {}
            for k in required:
                if k not in base:
                    base[k] = "c" if k == "name" else props[k].get("x-example")
            for g in exactly:
                if not any(k in base for k in g):
                    base[g[0]] = props[g[0]].get("x-example")
            for key, prop in props.items():
                if key == sel:
                    continue
                # The example, and every allowed value of an enum.
                values = ([prop["x-example"]] if "x-example" in prop else []) + \
                    [v for v in prop.get("enum", []) if v != prop.get("x-example")]
                for v in values:
                    obj = dict(base)
                    for g in exactly + at_most:
                        if key in g:
                            for other in g:
                                obj.pop(other, None)
                    obj[key] = v
                    yield f"{name}{'/' + value if value else ''}.{key}={json.dumps(v)}", obj

    wrap = {
        "log": lambda o: {"log": o}, "allow": lambda o: {"allow": o},
        "credential": lambda o: {"credentials": [o]}, "keyset": lambda o: {"keysets": [o]},
        "refresh": lambda o: {"credentials": [{"name": "c", "source": "entra", "refresh": o}]},
        "username": lambda o: {"credentials": [{"name": "c", "source": "entra", "username": o}]},
        "auth.entra": lambda o: {"credentials": [{"name": "c", "source": "entra", "auth": o}]},
        "auth.oauth2": lambda o: {"credentials": [{"name": "c", "source": "oauth2", "token_url": "https://idp.example.com/token",
                                                   "client_id": "c", "auth": o}]},
        "keyset.refresh": lambda o: {"keysets": [{"name": "c", "source": "jwks", "jwks_uri": "https://idp.example.com/keys",
                                                  "refresh": o}]},
    }
    for key, prop in schema["properties"].items():
        if "x-example" in prop:
            yield f"top.{key}", {key: prop["x-example"]}
    for name, w in wrap.items():
        for what, obj in objects(name):
            yield what, w(obj)


class Checker:
    def __init__(self, args, work):
        self.args, self.work = args, work
        self.schema = json.loads(subprocess.run([args.agent, "--print-config-schema"], check=True,
                                                capture_output=True, text=True).stdout)
        chart_values = yaml.safe_load((ROOT / "helm/tokenwell/values.yaml").read_text())
        self.chart_keys = set(chart_values)
        self.sources = Sources(run_cases(args.agent, args.cli, work))
        self.live = None
        self.counts = {}

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def check_config(self, config, where):
        jsonschema.validate(config, self.schema)
        path = self.work / "snippet.json"
        path.write_text(json.dumps(config))
        env = dict(os.environ, AZURE_TENANT_ID="00000000-0000-0000-0000-000000000001",
                   AZURE_CLIENT_ID="00000000-0000-0000-0000-000000000002",
                   AZURE_FEDERATED_TOKEN_FILE=str(path), AZURE_AUTHORITY_HOST="https://login.microsoftonline.com/")
        r = subprocess.run([self.args.agent, "--config", str(path), "--check-config"], capture_output=True,
                           text=True, env=env)
        errors = [l for l in r.stderr.splitlines() if l.strip() and not UNREADABLE.search(l)]
        if r.returncode != 0 and errors:
            raise Failure(f"--check-config rejects it: {r.stderr.strip()}")

    def json_block(self, mode, body):
        value = json.loads(body)
        if mode == "output":
            self.count("json output parsed")
            return
        if mode is None:
            if isinstance(value, dict) and value and set(value) <= CONFIG_KEYS:
                mode = "config"
            elif isinstance(value, (dict, list)) and ("source" in value if isinstance(value, dict)
                                                      else all(isinstance(v, dict) and "source" in v for v in value)):
                mode = "fragment"
            else:
                raise Failure("json that is neither a config nor a credential/keyset: mark it doc-check=output or skip")
        if mode == "fragment":
            items = value if isinstance(value, list) else [value]
            keysets = {"jwks", "key_files", "generated"}
            value = {"credentials": [i for i in items if i["source"] not in keysets],
                     "keysets": [i for i in items if i["source"] in keysets]}
        elif mode != "config":
            raise Failure(f"unknown json mode {mode}")
        self.check_config(value, "")
        self.count("json configs through --check-config and the schema")

    def yaml_block(self, mode, body):
        docs = [d for d in yaml.safe_load_all(body) if d is not None]
        if mode is None:
            if len(docs) == 1 and isinstance(docs[0], dict) and set(docs[0]) <= self.chart_keys:
                mode = "values"
            elif docs and all(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in docs):
                mode = "manifest"
            else:
                raise Failure("yaml that is neither chart values nor a Kubernetes object: mark it")
        if mode == "manifest":
            for d in docs:
                if "apiVersion" not in d or "kind" not in d:
                    raise Failure("a manifest without apiVersion/kind")
            self.count("yaml manifests parsed")
            return
        if mode != "values":
            raise Failure(f"unknown yaml mode {mode}")
        values = self.work / "values.yaml"
        # The walkthrough's placeholder for `az identity show … --query clientId`.
        values.write_text(body.replace("<CLIENT_ID>", "00000000-0000-0000-0000-000000000000"))
        r = subprocess.run([self.args.helm, "template", "doc", str(ROOT / "helm/tokenwell"), "-f", str(values),
                            "--show-only", "templates/configmap.yaml"], capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure(f"helm template: {r.stderr.strip()}")
        cm = yaml.safe_load(r.stdout)
        self.check_config(json.loads(cm["data"]["agent.json"]), "")
        self.count("yaml values through helm template, the schema and --check-config")

    def sh_block(self, mode, body):
        cmds = commands(body)
        if mode is None:
            if cmds and all(runnable(c) for c in cmds):
                mode = "run"
            else:
                raise Failure("shell that the check cannot run: mark it doc-check=skip (an illustration)")
        if mode != "run":
            raise Failure(f"unknown sh mode {mode}")
        if self.live is None:
            self.live = Agent.__new__(Agent)  # so main() stops whatever it started, even if start-up fails
            self.live.__init__(self.args.agent, self.args.cli, self.args.python, self.work / "live")
        # One shell per block, so a variable set on one line is there on the next.
        script = "set -euo pipefail\n" + "\n".join(cmds) + "\n"
        r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=self.live.env, timeout=60,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise Failure(f"exited {r.returncode}: {r.stderr.strip()[:300]}")
        for _ in cmds:
            self.count("shell commands run against the live agent")

    def check_file(self, path):
        failures = []
        rel = path.relative_to(ROOT)
        for line, lang, mode, body in snippets(path):
            where = f"{rel}:{line}"
            try:
                if mode == "skip":
                    self.count("skipped on purpose (doc-check=skip)")
                elif lang == "json":
                    self.json_block(mode, body)
                elif lang == "yaml":
                    self.yaml_block(mode, body)
                elif lang in ("sh", "bash", "console"):
                    self.sh_block(mode, body)
                elif lang in ("text", ""):
                    if mode == "message":
                        for m in body.splitlines():
                            if m.strip():
                                self.sources.has_message(m.strip())
                                self.count("messages found in the sources")
                    elif mode is not None:
                        raise Failure(f"unknown text mode {mode}")
                else:
                    raise Failure(f"{lang or 'unlabelled'} block: mark it doc-check=skip or make it checkable")
            except Failure as e:
                failures.append(f"{where}: {e}")
            except (json.JSONDecodeError, yaml.YAMLError, jsonschema.ValidationError) as e:
                failures.append(f"{where}: {type(e).__name__}: {str(e).splitlines()[0]}")
        for line, span, external in message_tables(path):
            if any(span.startswith(p) for p in external):
                self.count("table messages from other programs (not checked)")
                continue
            try:
                self.sources.has_message(span)
                self.count("table messages found in the sources")
            except Failure as e:
                failures.append(f"{rel}:{line}: {e}")
        return failures


def slug(heading):
    """GitHub's anchor of a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def link_failures(files):
    """Relative links that point at no file, or at no heading of it."""
    failures = []
    for f in files:
        text = f.read_text()
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", prose):
            if re.match(r"^[a-z]+:", target):
                continue
            path, _, frag = target.partition("#")
            dest = (f.parent / path).resolve() if path else f
            if not dest.exists():
                failures.append(f"{f.relative_to(ROOT)}: link to missing {target}")
                continue
            if frag and dest.suffix == ".md":
                slugs = {slug(h) for h in re.findall(r"^#+ (.*)$", dest.read_text(), flags=re.M)}
                if frag not in slugs:
                    failures.append(f"{f.relative_to(ROOT)}: link to missing heading {target}")
    return failures


def coverage_failures():
    """What the code serves or accepts that its reference does not mention, so
    a route, a CLI command or a CLI option added without docs fails here."""
    failures = []
    api_doc = (ROOT / "docs/socket-api.md").read_text()
    routes = re.findall(r'return "(/[^"]*)";', (ROOT / "agent/src/api/socket_routes.cpp").read_text())
    for route in routes:
        shown = route.replace("{name}", "NAME")
        if shown not in api_doc:
            failures.append(f"docs/socket-api.md: route {route} (agent/src/api/socket_routes.cpp) is not documented")
    cli_doc = (ROOT / "client-shim/cli/README.md").read_text()
    main_cpp = (ROOT / "client-shim/cli/main.cpp").read_text()
    for command in re.findall(r'\{"([a-z]+)", run_[a-z_]+\}', main_cpp):
        if f"tokenwell {command}" not in cli_doc and f"**`{command}" not in cli_doc:
            failures.append(f"client-shim/cli/README.md: command {command} (client-shim/cli/main.cpp) is not documented")
    for src in (ROOT / "client-shim/cli").glob("*.cpp"):
        for option in set(re.findall(r'\{"(--[a-z-]+)", (?:true|false)\}', src.read_text())):
            if option not in cli_doc:
                failures.append(f"client-shim/cli/README.md: option {option} ({src.name}) is not documented")
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--helm", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    files = [pathlib.Path(f).resolve() for f in args.files] or [
        ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "client-shim/cli/README.md"]
    work = pathlib.Path(tempfile.mkdtemp(prefix="doc-check."))
    checker = Checker(args, work)
    failures = []
    try:
        # No document may send users to material they do not have.
        for f in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "helm/tokenwell/values.yaml",
                  *sorted((ROOT / "helm/tokenwell").rglob("*.yaml")), *sorted((ROOT / "helm/tokenwell").rglob("*.tpl")),
                  ROOT / "helm/tokenwell/templates/NOTES.txt", *sorted((ROOT / "client-shim").glob("*/README.md"))]:
            for n, line in enumerate(f.read_text().splitlines(), 1):
                if "DESIGN.md" in line or "steering repo" in line:
                    failures.append(f"{f.relative_to(ROOT)}:{n}: refers to material outside the repository")
        for f in files:
            failures += checker.check_file(f)
        failures += link_failures(files)
        if not args.files:
            failures += coverage_failures()
            # Every example of the agent's own config description passes the
            # agent and the schema: the two cannot disagree on a documented value.
            for what, config in schema_examples(checker.schema):
                try:
                    checker.check_config(config, what)
                    checker.count("config-schema examples through --check-config and the schema")
                except (Failure, jsonschema.ValidationError) as e:
                    failures.append(f"schema example {what}: {json.dumps(config)}: {str(e).splitlines()[0]}")
    finally:
        if checker.live:
            checker.live.close()
    for what, n in sorted(checker.counts.items()):
        print(f"doc-check: {n:4d} {what}")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        print(f"doc-check: FAILED ({len(failures)}); work dir {work}", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("doc-check: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
