"""Salesforce adapters: OAuth tokens (auth), REST/Composite/Connect (rest), SOQL quoting (soql), CometD (stream)."""
