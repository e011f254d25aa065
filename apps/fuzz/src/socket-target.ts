import { connect } from 'node:net';
import { RpcClient, RpcServer } from '@trellis/core';
import { createEchoHandlers, loadEchoService } from '@trellis/testkit';

export interface SocketTargetResult {
  readonly inputs: number;
  readonly goodCalls: number;
  readonly goodErrors: string[];
  readonly protocolErrors: number;
}

/**
 * The same inputs over real loopback connections, several at a time, while a well-formed client on
 * its own connection keeps calling and checking every answer. The server must never stop serving it.
 */
export async function runSocketTarget(inputs: Iterable<Buffer>, parallel = 8): Promise<SocketTargetResult> {
  let protocolErrors = 0;
  const server = new RpcServer({ host: '127.0.0.1', tcp: { handshakeTimeoutMs: 500, onProtocolError: () => protocolErrors++ } });
  server.addService(loadEchoService(), createEchoHandlers({ servedBy: 'fuzz' }));
  await server.start();
  const client = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], timeoutMs: 5000 });
  let goodCalls = 0;
  const goodErrors: string[] = [];
  let fuzzing = true;
  const good = (async () => {
    for (let i = 0; fuzzing; i++) {
      try {
        const reply = (await client.invoke('Echo', { message: `ok ${i}` })) as { message: string };
        if (reply.message !== `ok ${i}`) goodErrors.push(`wrong answer: ${reply.message}`);
        goodCalls++;
      } catch (error) {
        goodErrors.push((error as Error).message);
      }
    }
  })();
  const iterator = inputs[Symbol.iterator]();
  let sent = 0;
  const lane = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      const input = next.value;
      sent++;
      await new Promise<void>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port: server.port }, () => {
          socket.write(input);
          // Give the server a moment to answer or reject, then hang up: a fuzz input never waits long.
          setTimeout(() => socket.destroy(), 5);
        });
        socket.on('data', () => {});
        socket.on('error', () => {});
        socket.on('close', () => resolve());
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  fuzzing = false;
  await good;
  await client.close();
  await server.close({ graceMs: 1000 });
  return { inputs: sent, goodCalls, goodErrors, protocolErrors };
}
