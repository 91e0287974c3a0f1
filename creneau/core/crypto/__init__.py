"""Encryption at rest for personal data: keys (`keys`), AES-GCM values (`aead`), encrypted model fields
(`fields`) and blind indexes (`blind`). See docs/decisions/0003-encryption-at-rest.md."""
