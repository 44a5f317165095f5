"""``pgc serve``: an openEO back-end (API 1.2) whose engine is pgc, on openeo-driver.

:mod:`.config` reads the server's TOML settings; :mod:`.store` keeps jobs, logs and
user-defined processes (SQLite or PostgreSQL); :mod:`.service` is the engine in openEO's
terms; :mod:`.jobs` runs batch jobs in worker processes; :mod:`.backend` and :mod:`.app`
adapt it to openeo-driver's web application. Needs the ``server`` extra and openeo-driver
(README, "pgc serve").
"""
