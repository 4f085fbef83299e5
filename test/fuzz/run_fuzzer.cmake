# ctest's fuzz.<name>: fuzzes FUZZER for SECONDS on a fresh copy of CORPUS (libFuzzer adds what
# it finds to its first directory: the checked-in seeds stay as they are), with REGRESSIONS
# replayed first. Any crash, leak, sanitizer report, property violation or timeout fails the
# test and leaves the input in WORK/artifacts. The environment variable CANARYCTL_FUZZ_SECONDS,
# when set, overrides SECONDS (a longer run without reconfiguring).
#   cmake -DFUZZER=... -DCORPUS=... -DREGRESSIONS=... -DWORK=... -DSECONDS=... -P run_fuzzer.cmake
foreach(var FUZZER CORPUS REGRESSIONS WORK SECONDS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${var}=... is required")
  endif()
endforeach()
if(DEFINED ENV{CANARYCTL_FUZZ_SECONDS})
  set(SECONDS $ENV{CANARYCTL_FUZZ_SECONDS})
endif()
foreach(dir ${CORPUS} ${REGRESSIONS})
  if(NOT IS_DIRECTORY ${dir})
    message(FATAL_ERROR "${dir}: not a directory")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(COPY ${CORPUS}/ DESTINATION ${WORK}/corpus)
execute_process(
  COMMAND ${FUZZER} -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=10
          -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/ ${WORK}/corpus ${REGRESSIONS}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB found ${WORK}/artifacts/*)
  message(FATAL_ERROR "${FUZZER} failed (${rc}); the input: ${found}\n"
                      "Fix the bug, then add the input to ${REGRESSIONS}/ with a note in "
                      "regressions/README.md.")
endif()
