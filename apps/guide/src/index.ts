export { WORKSPACE_ROOT, publishablePackages, tarballName, type PublishablePackage } from './workspace.js';
export { userEnv } from './child-env.js';
export { parseCommandLine, type CommandLine } from './command-line.js';
export { guideSteps, type GuideStep } from './guide-steps.js';
export { UserProcess, runToEnd, describe, type Exit, type Finished, type SpawnOptions } from './processes.js';
export { normalizeTranscript } from './transcript.js';
