#!/bin/sh
# A credential plugin that prints something other than an ExecCredential.
echo "token: corpus-s3cr3t-token"
