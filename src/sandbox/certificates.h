// The sandbox's PKI under --tls: a CA, a server certificate (SAN IP 127.0.0.1, DNS localhost)
// and a client certificate (CN canaryctl-sandbox-admin, O system:masters), kept in DIR/pki/
// and reused on restart so kubeconfigs written earlier keep working.
#pragma once

#include <string>

#include "sandbox/api_error.h"

namespace sandbox {

struct Pki {
  std::string dir;               // DIR/pki
  std::string ca_cert_file;      // ca.crt
  std::string server_cert_file;  // server.crt
  std::string server_key_file;   // server.key (0600)
  std::string ca_pem;
  std::string client_cert_pem;
  std::string client_key_pem;
};

// Loads the PKI from data_dir/pki when all its files are there and parse; otherwise generates
// a fresh one (ECDSA P-256, SHA-256) and stores it there. Keys are written with mode 0600.
Result<Pki> LoadOrCreatePki(const std::string& data_dir);

}  // namespace sandbox
