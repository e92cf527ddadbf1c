"""The playground's one database: the leaderboard, lab jobs and head-to-head ratings (docs/architecture.md,
"The database"). SQLite by default, PostgreSQL when ``PLAYGROUND_DATABASE_URL`` names one."""
