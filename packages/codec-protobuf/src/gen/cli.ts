#!/usr/bin/env node
import { parseCliArgs, USAGE } from './cli-args.js';
import { generateTypes } from './generate-types.js';

// The `trellis-proto-gen` bin. Kept to argument handling; the work is in generate-types.ts.
async function main(argv: readonly string[]): Promise<number> {
  let command;
  try {
    command = parseCliArgs(argv);
  } catch (error) {
    console.error(`trellis-proto-gen: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (command.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    const { serviceFiles } = await generateTypes(command.options);
    console.log(`trellis-proto-gen: wrote types to ${command.options.outDir} (${serviceFiles.length} service file(s))`);
    return 0;
  } catch (error) {
    console.error(`trellis-proto-gen: ${(error as Error).message}`);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
