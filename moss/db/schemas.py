"""Real moss's schemas of its three databases, verbatim: here, apart from the code
that reads and writes them, so that opening the databases read-only loads neither
the stone format nor dataclasses (:mod:`moss.states.quicklist`, issue 27).

Each list is what :func:`moss.db.open_database` migrates through, one script per
``user_version``.
"""

from __future__ import annotations

# Real moss's schema, verbatim (AerynOS/os-tools moss/src/db/meta/schemas/v1_up.sql).
INSTALL: list[str] = [
    """
-- SPDX-FileCopyrightText: 2024 AerynOS Developers
-- SPDX-License-Identifier: MPL-2.0

CREATE TABLE IF NOT EXISTS meta (
    package TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    version_identifier TEXT NOT NULL,
    source_release INT NOT NULL,
    build_release INT NOT NULL,
    architecture TEXT NOT NULL,
    summary TEXT NOT NULL,
    description TEXT NOT NULL,
    source_id TEXT NOT NULL,
    homepage TEXT NOT NULL,
    uri TEXT NULL,
    hash TEXT NULL,
    download_size BIGINT NULL
);

CREATE TABLE IF NOT EXISTS meta_licenses (
    package TEXT NOT NULL,
    license TEXT NOT NULL,
    PRIMARY KEY (package, license),
    FOREIGN KEY (package) REFERENCES meta(package) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS meta_dependencies (
    package TEXT NOT NULL,
    dependency TEXT NOT NULL,
    PRIMARY KEY (package, dependency),
    FOREIGN KEY (package) REFERENCES meta(package) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS meta_providers (
    package TEXT NOT NULL,
    provider TEXT NOT NULL,
    PRIMARY KEY (package, provider),
    FOREIGN KEY (package) REFERENCES meta(package) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS meta_conflicts (
    package TEXT NOT NULL,
    conflict TEXT NOT NULL,
    PRIMARY KEY (package, conflict),
    FOREIGN KEY (package) REFERENCES meta(package) ON DELETE CASCADE
);
    """,
]

# Real moss's schema, verbatim (AerynOS/os-tools moss/src/db/state/schemas/v1_up.sql).
STATE: list[str] = [
    """
-- SPDX-FileCopyrightText: 2024 AerynOS Developers
-- SPDX-License-Identifier: MPL-2.0

CREATE TABLE IF NOT EXISTS state (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    created BIGINT NOT NULL DEFAULT (unixepoch()),
    summary TEXT NULL,
    description TEXT NULL
);

CREATE TABLE IF NOT EXISTS state_selections (
    state_id INTEGER NOT NULL,
    package_id TEXT NOT NULL,
    explicit BOOLEAN NOT NULL,
    reason TEXT NULL,
    PRIMARY KEY(state_id, package_id),
    FOREIGN KEY(state_id) REFERENCES state(id) ON DELETE CASCADE
);
    """,
]

# Real moss's schema, verbatim (AerynOS/os-tools moss/src/db/layout/schemas/v1_up.sql).
LAYOUT: list[str] = [
    """
-- SPDX-FileCopyrightText: 2024 AerynOS Developers
-- SPDX-License-Identifier: MPL-2.0

-- Your SQL goes here

CREATE TABLE IF NOT EXISTS layout (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    package_id TEXT NOT NULL,
    uid INTEGER NOT NULL,
    gid INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    tag INTEGER NOT NULL,
    entry_type TEXT NOT NULL,
    entry_value1 TEXT NULL,
    entry_value2 TEXT NULL
);
    """,
]
