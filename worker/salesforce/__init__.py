"""Salesforce adapters: OAuth tokens (auth), REST/Composite/Connect (rest), SOQL (soql), CometD (stream)."""
