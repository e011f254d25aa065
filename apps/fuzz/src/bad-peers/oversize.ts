import { Code, RpcClient, RpcError, RpcServer, type ServerInvocation } from '@trellis/core';
import { loadEchoService, oversizedFrameAttack } from '@trellis/testkit';
import type { BadPeerResult } from './result.js';

interface EchoRequest { message: string; failCode: number; failMessage: string; delayMs: number }

const MiB = 1024 * 1024;

/**
 * Oversized headers and bodies in both directions, each beside 50 ordinary calls in flight on the
 * same connection: request headers and bodies over the server's limits (refused before sending),
 * error messages, trailers and bodies over the client's (fitted or refused by the server), and a raw
 * peer that ignores the limits (refused per call). Every ordinary call must succeed, every oversized
 * one must fail alone with the expected code, and nothing may reach an unhandled rejection.
 */
export async function oversizeBothWays(rounds: number): Promise<BadPeerResult> {
  const failures: string[] = [];
  const unhandled = (reason: unknown) => failures.push(`unhandled rejection: ${String((reason as Error)?.stack ?? reason)}`);
  process.on('unhandledRejection', unhandled);
  const server = new RpcServer({ host: '127.0.0.1' });
  const handler = async (request: EchoRequest, call: ServerInvocation) => {
    if (request.delayMs) await new Promise((r) => setTimeout(r, request.delayMs));
    // A handler that puts its input into its error message (the issue's remote crash).
    if (request.failCode) throw new RpcError(request.failCode, request.failMessage);
    if (request.message === 'big-trailers') for (let i = 0; i < 40; i++) call.responseMetadata.set(`t${i}`, 'x'.repeat(1000));
    if (request.message === 'big-body') return { message: 'b'.repeat(5 * MiB) };
    return { message: request.message };
  };
  server.addService(loadEchoService(), { echo: handler, mutate: handler });
  await server.start();
  const client = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], timeoutMs: 20_000, transparentRetries: 0 });
  const expect = async (name: string, call: Promise<unknown>, code: Code, mayHaveRun: boolean, message: RegExp) => {
    try {
      await call;
      failures.push(`${name}: succeeded, expected ${Code[code]}`);
    } catch (error) {
      const e = error as RpcError;
      if (e.code !== code || e.mayHaveRun !== mayHaveRun || !message.test(e.message)) {
        failures.push(`${name}: ${Code[e.code]} mayHaveRun=${e.mayHaveRun} "${e.message.slice(0, 200)}", expected ${Code[code]} mayHaveRun=${mayHaveRun} ${message}`);
      }
    }
  };
  let ordinary = 0;
  let oversized = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      const bystanders = Array.from({ length: 50 }, (_, i) => client.invoke('Echo', { message: `r${round}.${i}`, delayMs: 5 }).then(
        (reply) => { if ((reply as { message: string }).message !== `r${round}.${i}`) failures.push('a bystander got a wrong answer'); ordinary++; },
        (error: Error) => failures.push(`a bystander call failed: ${error.message}`),
      ));
      const bad = [
        expect('70 KB request header', client.invoke('Echo', {}, { metadata: { authorization: 't'.repeat(70_000) } }), Code.RESOURCE_EXHAUSTED, false, /maxHeaderSize/),
        expect('5 MiB request body', client.invoke('Echo', { message: 'q'.repeat(5 * MiB) }), Code.RESOURCE_EXHAUSTED, false, /maxBodySize/),
        expect('70 KB error message', client.invoke('Echo', { failCode: Code.INVALID_ARGUMENT, failMessage: 'e'.repeat(70_000) }), Code.INVALID_ARGUMENT, true, /message truncated from 70000 bytes/),
        expect('20 KB error message', client.invoke('Echo', { failCode: Code.NOT_FOUND, failMessage: 'e'.repeat(20_000) }), Code.NOT_FOUND, true, /message truncated/),
        expect('5 MiB response body', client.invoke('Echo', { message: 'big-body' }), Code.RESOURCE_EXHAUSTED, true, /exceeds the client's limit of 4194304 \(maxBodySize\)/),
        client.invokeWithResult('Echo', { message: 'big-trailers' }).then(
          (result) => { if (!result.metadata.has('trellis-trailers-truncated')) failures.push('40 KB of trailers: no truncation marker'); },
          (error: Error) => failures.push(`40 KB of trailers: failed: ${error.message}`),
        ),
      ];
      // A peer that ignores the server's SETTINGS (its own connection): refused per call, its next request served.
      const raw = oversizedFrameAttack(server.port, { rounds: 1, overBytes: 5 * MiB });
      await Promise.all([...bystanders, ...bad]);
      const outcome = await raw;
      if (outcome.refusedPerCall !== 1 || outcome.answered !== 1 || outcome.goAway !== undefined) {
        failures.push(`the peer ignoring the limits: ${outcome.refusedPerCall} refused, ${outcome.answered} answered${outcome.goAway ? `, GOAWAY ${outcome.goAway}` : ''}`);
      }
      oversized += bad.length + 1;
    }
    const after = (await client.invoke('Echo', { message: 'still up' })) as { message: string };
    if (after.message !== 'still up') failures.push('the server stopped answering');
  } finally {
    await client.close();
    await server.close({ graceMs: 1000 });
    process.off('unhandledRejection', unhandled);
  }
  return {
    attack: 'oversized headers and bodies, both directions',
    failures,
    lines: [`${rounds} rounds: ${oversized} oversized calls failed alone with the expected codes; ${ordinary} ordinary calls in flight beside them all succeeded`],
  };
}
