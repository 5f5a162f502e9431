# tokenwell::agent_api -- the Unix socket API, the TCP health/metrics listener
# and the agent's Prometheus metrics (included from agent/CMakeLists.txt).
# One HTTP stack, Boost.Beast, serves both listeners; prometheus-cpp's core
# only builds the exposition (its civetweb exposer is not used).
find_package(Boost 1.74 REQUIRED)  # header-only: Asio, Beast
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(nlohmann_json 3 REQUIRED)

add_library(tokenwell_agent_api STATIC
  src/api/api_log.cpp
  src/api/health_listener.cpp
  src/api/http_server.cpp
  src/api/metrics.cpp
  src/api/responses.cpp
  src/api/socket_api.cpp
  src/api/socket_routes.cpp)
add_library(tokenwell::agent_api ALIAS tokenwell_agent_api)
target_include_directories(tokenwell_agent_api PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_link_libraries(tokenwell_agent_api
  PUBLIC tokenwell::agent_core prometheus-cpp::core
  PRIVATE Boost::headers nlohmann_json::nlohmann_json)
