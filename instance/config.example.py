# Copy to instance/config.py and adjust. Every setting can also be given as an environment
# variable PORTAL_<NAME> (for example PORTAL_SECRET_KEY); those override this file.

# production (default) | development | testing
ENV = "production"

# Signs sessions and CSRF tokens. Required in production: 32+ random characters, e.g. from
#   python3 -c 'import secrets; print(secrets.token_hex(32))'
SECRET_KEY = "change-me"

# Another database instead of the SQLite file in this folder (or set DATABASE_URL).
# DATABASE_URL = "postgresql+psycopg://portal:secret@db.example/portal"

# Key for client secrets and 2-step verification secrets at rest (a Fernet key). When unset, the
# portal creates instance/encryption.key on first use.
# ENCRYPTION_KEY = "..."

# Number of reverse proxies in front of the portal whose X-Forwarded-For/Proto/Host are trusted.
# PROXY_COUNT = 1

# Session lifetimes.
# SESSION_IDLE_MINUTES = 60
# PERMANENT_SESSION_LIFETIME = 43200  # seconds

# Seconds to wait for Microsoft (or the emulator) on any call.
# IDP_TIMEOUT_SECONDS = 10

# Attempts per window (seconds) for 2-step verification codes and for re-entering a password
# (profile password change, linking a Microsoft account).
# TOTP_RATE_LIMIT = 5
# TOTP_RATE_WINDOW_SECONDS = 300
# PASSWORD_CHANGE_ATTEMPTS = 5
# PASSWORD_CHANGE_WINDOW_SECONDS = 300
