"""How `moorage serve` hands its resolved settings to the processes it starts.

Its own module, stdlib only: the supervisor reads them without importing the settings model.
"""

RESOLVED_SETTINGS_VARIABLE = "MOORAGE_RESOLVED_SETTINGS"
"""The settings as JSON, validated once by `moorage serve`; read by the supervisor and every worker."""
