#include "common/result.h"

namespace canaryctl {

int ExitCode(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kCheckFailed:
      return 1;
    case ErrorKind::kConfig:
      return 2;
    case ErrorKind::kCluster:
      return 3;
    case ErrorKind::kLocked:
      return 4;
    case ErrorKind::kRollbackFailed:
      return 5;
    case ErrorKind::kInterrupted:
      return 130;
  }
  return 3;
}

}  // namespace canaryctl
