"""The emulated GraphQL POS API (a second POS product), served by the POS emulator's process.

* :mod:`.oidc` — an OpenID Connect issuer: discovery and a client-credentials token endpoint (RFC 6749 §4.4).
* :mod:`.server` — ``POST /graphql`` over the ASSUMED schema ``schema.graphql`` (ariadne, introspection on;
  ``GET /graphql`` is a GraphiQL console).
* :mod:`.resolvers` — the root fields; sales are the emulator's in-store sales (``/__admin/sales``) shown in
  the assumed shape, selected by their modification time.

What is assumed (names, errors, permissions, paging) is in ``emulator/REFERENCE-graphql-pos.md``.
"""
