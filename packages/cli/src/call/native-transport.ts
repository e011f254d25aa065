import { performance } from 'node:perf_hooks';
import { Code, MAX_TIMEOUT_MS, RpcClient, RpcError } from '@trellis/core';
import { CliError, notFound } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { registryUnreachable } from '../registry/catalog.js';
import { reason } from '../registry/reason.js';
import { CallFailed, type CallBase, type CallResult, type CallTransport, type StreamCall, type StreamResult, type UnaryCall } from './call-transport.js';

/**
 * The native protocol through the kernel's own RpcClient: discovery from the registry (or a static
 * address), round-robin, the kernel's transparent retry of calls that never ran, and the caller's
 * deadline sent in the header; unary calls and the three stream kinds. No governance plugins: the
 * CLI is an operator's probe, it must see what a provider answers, not a retried or broken-circuit
 * result.
 */
export class NativeTransport implements CallTransport {
  readonly protocol = 'trellis';

  async unary(call: UnaryCall): Promise<CallResult> {
    return this.withClient(call, async (client) => {
      const started = performance.now();
      try {
        const result = await client.invokeWithResult(call.method.name, call.request, { timeoutMs: call.timeoutMs, metadata: { ...call.metadata } });
        return {
          response: result.response,
          metadata: Object.fromEntries(result.metadata ?? []),
          endpoint: result.endpoint.id,
          elapsedMs: performance.now() - started,
        };
      } catch (error) {
        throw new CallFailed(RpcError.from(error), performance.now() - started);
      }
    });
  }

  /**
   * A stream through RpcClient.stream: requests are pulled by the kernel as it can send them (stdin
   * line by line); a request that fails its check cancels the stream and is what the command reports.
   */
  async stream(call: StreamCall): Promise<StreamResult> {
    return this.withClient(call, async (client) => {
      let requestError: unknown;
      const requests = (async function* () {
        try {
          yield* call.requests;
        } catch (error) {
          requestError ??= error;
          throw error;
        }
      })();
      const request = call.method.kind === 'server-streaming' ? (await requests.next()).value : requests;
      const started = performance.now();
      const stream = client.stream(call.method.name, request, { timeoutMs: deadlineOf(call), metadata: { ...call.metadata } });
      let responses = 0;
      try {
        for await (const response of stream) {
          responses++;
          call.onResponse(response);
        }
        const [headers, trailers] = await Promise.all([stream.headers, stream.trailers]);
        return {
          metadata: { ...Object.fromEntries(headers), ...Object.fromEntries(trailers) },
          endpoint: stream.endpoint?.id ?? '',
          elapsedMs: performance.now() - started,
          responses,
        };
      } catch (error) {
        if (requestError !== undefined) throw requestError;
        throw new CallFailed(RpcError.from(error), performance.now() - started, stream.endpoint?.id);
      }
    });
  }

  /** An RpcClient for the call's service and target, closed afterwards; with a registry, once a provider is listed. */
  private async withClient<T>(call: CallBase, work: (client: RpcClient) => Promise<T>): Promise<T> {
    const { target } = call;
    const registry = target.kind === 'registry' ? await target.registry.registry() : undefined;
    const client = new RpcClient({
      service: call.descriptors.definition(call.method.service),
      group: call.group,
      timeoutMs: deadlineOf(call),
      ...(target.kind === 'address'
        ? { addresses: target.addresses.map((a) => ({ host: a.host, port: a.port })) }
        : { registry: registry! }),
    });
    try {
      if (target.kind === 'registry') await this.waitForProviders(client, call);
      return await work(client);
    } finally {
      await client.close();
    }
  }

  /** No provider listed: the registry is down (exit 3), the service unknown or empty (exit 4). */
  private async waitForProviders(client: RpcClient, call: CallBase): Promise<void> {
    if (call.target.kind !== 'registry') return;
    const registry = call.target.registry;
    try {
      await client.waitForReady({ timeoutMs: registry.timeoutMs });
      return;
    } catch (error) {
      if (!(error instanceof RpcError) || error.code !== Code.UNAVAILABLE) throw error;
    }
    const reported = registry.reportedError;
    if (reported?.code === 'ERR_REGISTRY_UNREACHABLE') {
      throw registryUnreachable(registry.address, `discovering ${call.method.service}`, reason(reported), reported);
    }
    // Listed nowhere: say so with the names that are there (this also tells a down registry apart).
    const service = await registry.service({ group: call.group, name: call.method.service });
    if (service.providers.length === 0) {
      throw notFound(`service "${service.name}" (group "${service.group}") has no provider in ${registry.address.display}`, '`trellis ls` shows what is registered');
    }
    throw new CliError(ExitCode.RPC_FAILED, `${service.name}: providers are listed, but none arrived through the registry within ${registry.timeoutMs} ms`);
  }
}

/** Streams without --timeout have no deadline (a watch stays open until Ctrl-C): the kernel's longest. */
function deadlineOf(call: CallBase): number {
  return Number.isFinite(call.timeoutMs) ? call.timeoutMs : MAX_TIMEOUT_MS;
}
