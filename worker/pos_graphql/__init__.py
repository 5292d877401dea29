"""The GraphQL POS back-end (``pos.backend: graphql``): OpenID Connect client credentials (:mod:`.oidc`), the
GraphQL client on ``gql`` (:mod:`.client`), the worker's query documents (:mod:`.queries`) and the check of
those documents against the server's introspected schema (:mod:`.schema_check`). What is assumed about the API
is in ``emulator/REFERENCE-graphql-pos.md``."""
