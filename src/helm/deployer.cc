#include "helm/deployer.h"

namespace canaryctl::helm {

bool Revision::Pending() const { return status.rfind("pending-", 0) == 0; }

}  // namespace canaryctl::helm
