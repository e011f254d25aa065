/**
 * The environment of a command run as a user would run it: this test process's environment without
 * what tap, pnpm and npm's script runner add (tap's loader in NODE_OPTIONS would otherwise load into
 * every child node, and coverage with it), and without NODE_ENV, which the guide sets where it means to.
 */
export function userEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (INHERITED_ONLY_BY_TOOLS.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

// npm_config_* other than the user agent is npm configuration and stays (a registry set that way).
const INHERITED_ONLY_BY_TOOLS =
  /^(NODE_OPTIONS|NODE_PATH|NODE_ENV|NODE_V8_COVERAGE|TAP|TAP_.*|_TAPJS_.*|TS_NODE_.*|TURBO_.*|PNPM_.*|pnpm_.*|npm_lifecycle_.*|npm_package_.*|npm_config_user_agent|npm_execpath|npm_node_execpath|npm_command|INIT_CWD)$/;
