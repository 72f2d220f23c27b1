"""The project's configuration loader: Kedro's ``OmegaConfigLoader``, plus the user's
``conf/local/credentials*.yml`` in every environment.

Kedro merges ``base`` with the one run environment, so ``kedro run --env=cloud`` would
not see the secrets a user keeps in ``conf/local`` (untracked). This loader merges that
folder's credentials over the run environment's for any environment other than
``local``; everything else is Kedro's behaviour unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from omegaconf import OmegaConf

LOCAL_ENV = "local"


class ProjectConfigLoader(OmegaConfigLoader):
    """``OmegaConfigLoader`` whose credentials include ``conf/local``'s everywhere."""

    def __getitem__(self, key: str) -> dict[str, Any]:
        config = super().__getitem__(key)
        run_env = self.env or self.default_run_env
        if key != "credentials" or run_env == LOCAL_ENV or self._protocol != "file":
            return config
        local = Path(self.conf_source) / LOCAL_ENV
        if not local.is_dir():
            return config
        local_config = self.load_and_merge_dir_config(
            str(local),
            self.config_patterns[key],
            key,
            set(),
            read_environment_variables=True,
        )
        if not local_config:
            return config
        merged = OmegaConf.merge(
            OmegaConf.create(config), OmegaConf.create(local_config)
        )
        return OmegaConf.to_container(merged, resolve=True)  # type: ignore[return-value]
