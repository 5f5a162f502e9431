# tokenwell::agent_entra -- the HTTP client and the entra / oauth2 / managed
# identity credential sources (included from agent/CMakeLists.txt).
find_package(CURL REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)

add_library(tokenwell_agent_entra STATIC
  src/http/curl_http_client.cpp
  src/entra/client_assertion.cpp
  src/entra/entra_config.cpp
  src/entra/entra_source.cpp
  src/entra/jwt.cpp
  src/entra/token_response.cpp)
add_library(tokenwell::agent_entra ALIAS tokenwell_agent_entra)
target_include_directories(tokenwell_agent_entra PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_link_libraries(tokenwell_agent_entra
  PUBLIC tokenwell::agent_core nlohmann_json::nlohmann_json
  PRIVATE CURL::libcurl OpenSSL::Crypto)
