/**
 * What `trellis` exits with. Scripts may rely on these numbers: they are part of the CLI's contract
 * (README "Exit codes") and never change meaning.
 */
export const ExitCode = {
  OK: 0,
  /** The call (or health check) reached an answer that is a failure: an RPC status other than OK, a provider NOT_SERVING. */
  RPC_FAILED: 1,
  /** The command line, an input file, the request JSON or a .proto is wrong: nothing was attempted. */
  USAGE: 2,
  /** The registry (etcd or ZooKeeper) did not answer. */
  REGISTRY_UNREACHABLE: 3,
  /** A service, provider, method, message or rule document that does not exist. */
  NOT_FOUND: 4,
  /** A rule document failed validation; nothing was written. */
  INVALID_RULES: 5,
  /** `rules diff`: the file and the registry differ (like diff(1), but its own number). */
  DIFFERENT: 6,
  /** `rules set`/`rules delete`: the confirmation was declined; nothing was written. */
  DECLINED: 7,
  /** A bug in trellis itself: the message says what happened. */
  INTERNAL: 70,
  /** Interrupted (Ctrl-C), 128 + SIGINT as shells report it. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
