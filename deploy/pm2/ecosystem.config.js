// veil under pm2, as MIID operators run their miners:
//   pm2 start deploy/pm2/ecosystem.config.js --only veil-miner
// Settings come from ./.env (mode 0600; see .env.example) or the
// environment: the wallet (BT_WALLET_NAME, BT_WALLET_HOTKEY), NETUID,
// BT_SUBTENSOR_NETWORK (the metagraph says who may query), or VEIL_ALLOW
// (hotkeys, comma-separated), the store (VEIL_STORE or MIID_S3_BUCKET).
// pm2 stops with SIGINT, then SIGKILL after kill_timeout: veil drains on
// SIGINT as on SIGTERM, and kill_timeout leaves it the time to.
//
// tests/tests/deploy.rs starts, probes and stops veil-miner with pm2 from
// npm.
module.exports = {
  apps: [
    {
      name: "veil-miner",
      script: process.env.VEIL_BIN || "veil",
      interpreter: "none",
      // The spool and the rounds journal go here.
      cwd: process.env.VEIL_STATE_DIR || process.cwd(),
      args: [
        "miner",
        "--listen", process.env.VEIL_MINER_LISTEN || "0.0.0.0:8091",
        "--spool", ".",
        "--metrics.port", process.env.VEIL_METRICS_PORT || "9100",
      ],
      autorestart: true,
      max_restarts: 10,
      restart_delay: 5000,
      kill_timeout: 330000,
      merge_logs: true,
      time: false,
    },
    {
      name: "veil-validator",
      script: process.env.VEIL_BIN || "veil",
      interpreter: "none",
      args: [
        "validator",
        "--cycles", "0",
        "--period", "300",
        "--metrics.port", process.env.VEIL_VALIDATOR_METRICS_PORT || "9101",
      ],
      autorestart: true,
      restart_delay: 5000,
      kill_timeout: 330000,
    },
  ],
};
