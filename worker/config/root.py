"""The whole configuration: its four sections and the checks that span them."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr, model_validator

from .common import Frozen
from .pos import PosConfig
from .pos_graphql import backend_problems
from .salesforce import AuthConfig, SalesforceConfig
from .worker_section import WorkerConfig


class Config(Frozen):
    salesforce: SalesforceConfig
    auth: AuthConfig = AuthConfig()
    pos: PosConfig
    worker: WorkerConfig

    @model_validator(mode="after")
    def _auth_needs(self) -> Config:
        a, sf = self.auth, self.salesforce
        needs: dict[str, list[tuple[str, object]]] = {
            "password": [
                ("auth.client_id", a.client_id), ("auth.client_secret", a.client_secret),
                ("salesforce.Username", sf.Username), ("salesforce.Password", sf.Password),
            ],
            "client_credentials": [("auth.client_id", a.client_id), ("auth.client_secret", a.client_secret)],
            "jwt_bearer": [
                ("auth.client_id", a.client_id), ("auth.private_key_file", a.private_key_file),
                ("salesforce.Username", sf.Username),
            ],
            "refresh_token": [("auth.client_id", a.client_id), ("auth.refresh_token", a.refresh_token)],
        }
        missing = [name for name, val in needs[a.flow] if val in (None, "")]
        if missing:
            raise ValueError(f"auth.flow: the {a.flow} flow needs {', '.join(missing)}")
        if a.private_key_file is not None and a.flow == "jwt_bearer" and not a.private_key_file.is_file():
            raise ValueError(f"auth.private_key_file: no readable file at {a.private_key_file}")
        return self

    @model_validator(mode="after")
    def _backend(self) -> Config:
        """Flows the configured POS back-end cannot run are refused here (check-config and run), never half-run."""
        found = backend_problems(self)
        if found:
            raise ValueError("\n".join(found))
        return self

    @model_validator(mode="after")
    def _plaintext_pubsub(self) -> Config:
        if not self.worker.stream.pubsub.tls and not self.salesforce.allow_insecure_local:
            raise ValueError("worker.stream.pubsub.tls: false (plaintext gRPC) needs salesforce.allow_insecure_local: "
                             "true; it is for the local emulator only")
        return self

    def secret_values(self) -> list[str]:
        """Every configured secret, so the log redactor can mask them wherever they appear."""
        found: list[str] = []

        def walk(model: BaseModel) -> None:
            for name in type(model).model_fields:
                value = getattr(model, name)
                if isinstance(value, SecretStr):
                    found.append(value.get_secret_value())
                elif isinstance(value, BaseModel):
                    walk(value)
                elif isinstance(value, tuple):
                    for item in value:
                        if isinstance(item, SecretStr):
                            found.append(item.get_secret_value())
                        elif isinstance(item, BaseModel):
                            walk(item)

        walk(self)
        return [s for s in found if s]
