# CANARYCTL_STATIC_DEPS: link the libraries statically, so that a canaryctl command does not
# spend most of its start-up in the dynamic loader. With Debian's shared libraries a process
# maps 35 of them and resolves ~22,000 symbol relocations before main(): ~15 ms of a 17 ms
# `canaryctl version` (perf: ld.so's do_lookup_x and page faults), and `canaryctl shift` must
# finish in a tenth of `kubectl patch`.
#
# - Poco: Debian ships no static Poco, so scripts/setup builds Debian's own source package
#   (poco 1.11.0-3+deb12u1, the version of libpoco-dev, with Debian's patches) as static
#   libraries into CANARYCTL_POCO_STATIC_DIR.
# - yaml-cpp, libgit2 with its libraries, OpenSSL: Debian's .a files.
# - spdlog and fmt: header-only (Debian ships no .a for them).
# - libstdc++ and libgcc: -static-libstdc++ -static-libgcc.
# What stays shared: glibc, and libgit2's GSSAPI (Kerberos), which has no .a in Debian.
#
# Include before the find_package() calls; it defines the imported targets the project links
# (yaml-cpp, spdlog::spdlog, PkgConfig::LIBGIT2) itself in static mode.
option(CANARYCTL_STATIC_DEPS "Link Poco, yaml-cpp, libgit2, OpenSSL, spdlog and libstdc++ statically" OFF)
set(CANARYCTL_POCO_STATIC_DIR "${PROJECT_SOURCE_DIR}/tools/poco-static"
    CACHE PATH "Prefix of the static Poco build (scripts/setup)")

if(CANARYCTL_STATIC_DEPS)
  if(NOT EXISTS "${CANARYCTL_POCO_STATIC_DIR}/lib/cmake/Poco/PocoConfig.cmake")
    message(FATAL_ERROR "CANARYCTL_STATIC_DEPS: no static Poco in ${CANARYCTL_POCO_STATIC_DIR}; "
                        "scripts/setup builds it (or configure with -DCANARYCTL_STATIC_DEPS=OFF)")
  endif()
  set(Poco_DIR "${CANARYCTL_POCO_STATIC_DIR}/lib/cmake/Poco")
  set(OPENSSL_USE_STATIC_LIBS TRUE)
  add_link_options(-static-libstdc++ -static-libgcc)

  # Full paths of Debian's static archives; a missing one is a setup problem, named here.
  function(canaryctl_static_archive out name)
    unset(found)
    find_library(found NAMES lib${name}.a NO_CACHE REQUIRED)
    set(${out} "${found}" PARENT_SCOPE)
  endfunction()

  canaryctl_static_archive(CANARYCTL_YAML_CPP_A yaml-cpp)
  add_library(yaml-cpp STATIC IMPORTED GLOBAL)
  set_target_properties(yaml-cpp PROPERTIES IMPORTED_LOCATION "${CANARYCTL_YAML_CPP_A}")
  set(yaml-cpp_FOUND TRUE)

  find_package(Threads REQUIRED)
  add_library(spdlog::spdlog INTERFACE IMPORTED GLOBAL)
  set_target_properties(spdlog::spdlog PROPERTIES
    INTERFACE_COMPILE_DEFINITIONS "SPDLOG_FMT_EXTERNAL;FMT_HEADER_ONLY=1"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  set(spdlog_FOUND TRUE)

  # libgit2.pc's Libs.private, then libssh2's (OpenSSL, zlib); GSSAPI stays shared.
  set(libgit2_archives)
  foreach(lib git2 mbedtls mbedx509 mbedcrypto http_parser ssh2 pcre2-8 z)
    canaryctl_static_archive(archive ${lib})
    list(APPEND libgit2_archives "${archive}")
  endforeach()
  find_package(OpenSSL REQUIRED)
  # Debian installs only the runtime's libgssapi_krb5.so.2 (the .so link is in libkrb5-dev).
  find_library(CANARYCTL_GSSAPI NAMES gssapi_krb5 libgssapi_krb5.so.2 REQUIRED)
  add_library(PkgConfig::LIBGIT2 INTERFACE IMPORTED GLOBAL)
  set_target_properties(PkgConfig::LIBGIT2 PROPERTIES
    INTERFACE_LINK_LIBRARIES "${libgit2_archives};OpenSSL::SSL;OpenSSL::Crypto;${CANARYCTL_GSSAPI};rt;${CMAKE_DL_LIBS};Threads::Threads")
  set(LIBGIT2_FOUND TRUE)
endif()
