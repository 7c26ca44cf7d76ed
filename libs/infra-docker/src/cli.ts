#!/usr/bin/env node
/**
 * `npm run redis -- up|stop|down|status|config …` — see `npm run redis -- --help`. Plain services, no Nest
 * application: the command has to start fast.
 */
import { runInfraDockerCli } from './infra-docker.cli.js';

// `npm run redis -- status | head -1` closes the pipe early: that's the reader's choice, not a crash.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

process.exitCode = await runInfraDockerCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});
