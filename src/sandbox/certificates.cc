#include "sandbox/certificates.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include <Poco/File.h>
#include <Poco/Path.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace sandbox {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string OpenSslError(const std::string& what) {
  char buffer[256] = {0};
  unsigned long code = ERR_get_error();
  if (code != 0) ERR_error_string_n(code, buffer, sizeof buffer);
  ERR_clear_error();
  return what + (code != 0 ? std::string(": ") + buffer : "");
}

bool ReadFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream text;
  text << in.rdbuf();
  out = text.str();
  return true;
}

// Writes atomically with the given mode, so a crash never leaves half a key behind.
Status WriteFile(const std::string& path, const std::string& data, mode_t mode) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return ApiError::Internal("cannot write " + tmp);
  ::fchmod(fd, mode);  // the umask may have narrowed or the file pre-existed
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      ::close(fd);
      return ApiError::Internal("cannot write " + tmp);
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return ApiError::Internal("cannot rename " + tmp + " to " + path);
  }
  return Ok{};
}

std::string KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

CertPtr ParseCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return CertPtr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

KeyPtr ParseKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return KeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

struct CertSpec {
  std::string common_name;
  std::string organization;  // "" for none
  bool ca = false;
  const char* key_usage = nullptr;
  const char* ext_key_usage = nullptr;
  const char* subject_alt_name = nullptr;
  long days = 3650;
};

// Issues a certificate for key; issuer/issuer_key null for a self-signed one.
Result<CertPtr> Issue(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  CertPtr cert(X509_new());
  if (!cert) return ApiError::Internal(OpenSslError("X509_new"));
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) {
    return ApiError::Internal(OpenSslError("RAND_bytes"));
  }
  serial_bytes[0] &= 0x7f;  // a positive serial
  BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  // Backdated an hour so clocks slightly behind still accept it.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.days * 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!spec.organization.empty()) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(spec.organization.c_str()),
                               -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  X509_set_pubkey(cert.get(), key);

  bool ok = AddExtension(cert.get(), signer, NID_basic_constraints,
                         spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
            AddExtension(cert.get(), signer, NID_key_usage, spec.key_usage) &&
            AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (ok && issuer != nullptr) {
    ok = AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  }
  if (ok && spec.ext_key_usage != nullptr) {
    ok = AddExtension(cert.get(), signer, NID_ext_key_usage, spec.ext_key_usage);
  }
  if (ok && spec.subject_alt_name != nullptr) {
    ok = AddExtension(cert.get(), signer, NID_subject_alt_name, spec.subject_alt_name);
  }
  if (!ok) return ApiError::Internal(OpenSslError("adding certificate extensions"));
  if (X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0) {
    return ApiError::Internal(OpenSslError("X509_sign"));
  }
  return cert;
}

Result<KeyPtr> NewKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return ApiError::Internal(OpenSslError("generating an EC key"));
  return key;
}

Pki Paths(const std::string& data_dir) {
  Pki pki;
  pki.dir = Poco::Path(data_dir).makeDirectory().pushDirectory("pki").toString();
  pki.ca_cert_file = pki.dir + "ca.crt";
  pki.server_cert_file = pki.dir + "server.crt";
  pki.server_key_file = pki.dir + "server.key";
  return pki;
}

// Loads an existing PKI if it is complete and consistent: every file parses, the keys match
// their certificates and the CA signed both leaf certificates.
bool Load(Pki& pki) {
  std::string ca_key_pem, server_cert_pem, server_key_pem;
  if (!ReadFile(pki.ca_cert_file, pki.ca_pem) || !ReadFile(pki.dir + "ca.key", ca_key_pem) ||
      !ReadFile(pki.server_cert_file, server_cert_pem) ||
      !ReadFile(pki.server_key_file, server_key_pem) ||
      !ReadFile(pki.dir + "client.crt", pki.client_cert_pem) ||
      !ReadFile(pki.dir + "client.key", pki.client_key_pem)) {
    return false;
  }
  CertPtr ca = ParseCert(pki.ca_pem);
  CertPtr server = ParseCert(server_cert_pem);
  CertPtr client = ParseCert(pki.client_cert_pem);
  KeyPtr ca_key = ParseKey(ca_key_pem);
  KeyPtr server_key = ParseKey(server_key_pem);
  KeyPtr client_key = ParseKey(pki.client_key_pem);
  bool ok = ca && server && client && ca_key && server_key && client_key &&
            X509_check_private_key(ca.get(), ca_key.get()) == 1 &&
            X509_check_private_key(server.get(), server_key.get()) == 1 &&
            X509_check_private_key(client.get(), client_key.get()) == 1 &&
            X509_verify(server.get(), X509_get0_pubkey(ca.get())) == 1 &&
            X509_verify(client.get(), X509_get0_pubkey(ca.get())) == 1 &&
            X509_cmp_current_time(X509_get0_notAfter(server.get())) > 0 &&
            X509_cmp_current_time(X509_get0_notAfter(client.get())) > 0;
  ERR_clear_error();
  return ok;
}

Result<Pki> Create(Pki pki) {
  auto ca_key = NewKey();
  if (!ca_key.ok()) return ca_key.error();
  auto server_key = NewKey();
  if (!server_key.ok()) return server_key.error();
  auto client_key = NewKey();
  if (!client_key.ok()) return client_key.error();

  CertSpec ca_spec;
  ca_spec.common_name = "canaryctl-sandbox-ca";
  ca_spec.ca = true;
  ca_spec.key_usage = "critical,keyCertSign,cRLSign,digitalSignature";
  auto ca = Issue(ca_spec, ca_key.value().get(), nullptr, nullptr);
  if (!ca.ok()) return ca.error();

  CertSpec server_spec;
  server_spec.common_name = "canaryctl-sandbox";
  server_spec.key_usage = "critical,digitalSignature,keyEncipherment";
  server_spec.ext_key_usage = "serverAuth";
  server_spec.subject_alt_name = "IP:127.0.0.1,DNS:localhost";
  auto server =
      Issue(server_spec, server_key.value().get(), ca.value().get(), ca_key.value().get());
  if (!server.ok()) return server.error();

  CertSpec client_spec;
  client_spec.common_name = "canaryctl-sandbox-admin";
  client_spec.organization = "system:masters";
  client_spec.key_usage = "critical,digitalSignature,keyEncipherment";
  client_spec.ext_key_usage = "clientAuth";
  auto client =
      Issue(client_spec, client_key.value().get(), ca.value().get(), ca_key.value().get());
  if (!client.ok()) return client.error();

  pki.ca_pem = CertPem(ca.value().get());
  pki.client_cert_pem = CertPem(client.value().get());
  pki.client_key_pem = KeyPem(client_key.value().get());
  // The CA last: Load() treats the set as complete only once every file is there.
  const std::pair<std::string, std::pair<std::string, mode_t>> files[] = {
      {pki.server_key_file, {KeyPem(server_key.value().get()), 0600}},
      {pki.server_cert_file, {CertPem(server.value().get()), 0644}},
      {pki.dir + "client.key", {pki.client_key_pem, 0600}},
      {pki.dir + "client.crt", {pki.client_cert_pem, 0644}},
      {pki.dir + "ca.key", {KeyPem(ca_key.value().get()), 0600}},
      {pki.ca_cert_file, {pki.ca_pem, 0644}},
  };
  for (const auto& [path, content] : files) {
    Status written = WriteFile(path, content.first, content.second);
    if (!written.ok()) return written.error();
  }
  return pki;
}

}  // namespace

Result<Pki> LoadOrCreatePki(const std::string& data_dir) {
  Pki pki = Paths(data_dir);
  try {
    Poco::File(pki.dir).createDirectories();
  } catch (const Poco::Exception& e) {
    return ApiError::Internal("cannot create " + pki.dir + ": " + e.displayText());
  }
  ::chmod(pki.dir.c_str(), 0700);
  if (Load(pki)) return pki;
  return Create(pki);
}

}  // namespace sandbox
