# tokenwell::agent_keys -- keysets: JWKs with OpenSSL 3 EVP, JWKS fetching,
# key files and the rotation of generated keys (included from
# agent/CMakeLists.txt).
find_package(OpenSSL 3 REQUIRED)

add_library(tokenwell_agent_keys STATIC
  src/keys/jwk.cpp
  src/keys/jwks_keyset.cpp
  src/keys/key_files.cpp
  src/keys/key_rotation.cpp)
add_library(tokenwell::agent_keys ALIAS tokenwell_agent_keys)
target_include_directories(tokenwell_agent_keys PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_link_libraries(tokenwell_agent_keys
  PUBLIC tokenwell::agent_entra nlohmann_json::nlohmann_json
  PRIVATE OpenSSL::Crypto)
