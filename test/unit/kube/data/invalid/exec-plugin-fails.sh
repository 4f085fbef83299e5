#!/bin/sh
# A credential plugin whose login expired.
echo "error: the refresh token expired; run the login again" >&2
exit 1
