"""One settings model: defaults < moorage.toml (or --config FILE) < MOORAGE_* environment < flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

CONFIG_FILE_VARIABLE = "MOORAGE_CONFIG"


class Settings(BaseSettings):
    """Everything moorage can be configured with."""

    model_config = SettingsConfigDict(env_prefix="MOORAGE_", extra="forbid")

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(5000, ge=0, le=65535, description="TCP port to listen on.")
    data_dir: Path = Field(Path("moorage-data"), description="Directory for blobs and the embedded database.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the metadata store; default: SQLite in the data directory."
    )
    server: Literal["granian", "uvicorn"] = Field("granian", description="The HTTP server that runs the app.")
    workers: int = Field(1, ge=1, le=64, description="HTTP worker processes.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Lifecycle policies and garbage collection (docs/gc.md, docs/lifecycle.md).
    lifecycle_interval_seconds: float = Field(
        86400, ge=0, description="How often lifecycle policies are applied in the background; 0: never."
    )
    gc_interval_seconds: float = Field(3600, ge=0, description="How often GC runs in the background; 0: never.")
    gc_grace_period_seconds: float = Field(
        86400, ge=0, description="An unreferenced blob is kept this long after its last upload, mount or release."
    )
    upload_max_age_seconds: float = Field(
        86400, ge=0, description="Upload sessions idle this long are abandoned and purged by GC."
    )
    gc_batch_size: int = Field(500, ge=1, le=10000, description="Blobs removed per GC transaction.")
    gc_batch_pause_seconds: float = Field(0.0, ge=0, description="Pause between GC batches (eases load).")
    gc_lease_seconds: float = Field(
        300, gt=0, description="A GC or lifecycle pass that stops renewing its lease for this long is presumed dead."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = os.environ.get(CONFIG_FILE_VARIABLE, "moorage.toml")
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file)

    def metadata_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'metadata.db'}"

    def masked(self) -> dict[str, Any]:
        """The effective settings with any password in the database URL hidden."""
        values = self.model_dump(mode="json")
        url = values.get("database_url")
        if url and "@" in url and ":" in url.split("@", 1)[0].split("//", 1)[-1]:
            scheme, rest = url.split("//", 1)
            credentials, host = rest.split("@", 1)
            values["database_url"] = f"{scheme}//{credentials.split(':', 1)[0]}:***@{host}"
        return values
