import { performance } from 'node:perf_hooks';
import { Code, RpcClient, RpcError } from '@trellis/core';
import { CliError, notFound } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { registryUnreachable } from '../registry/catalog.js';
import { reason } from '../registry/reason.js';
import { CallFailed, type CallResult, type CallTransport, type UnaryCall } from './call-transport.js';

/**
 * The native protocol through the kernel's own RpcClient: discovery from the registry (or a static
 * address), round-robin, the kernel's transparent retry of calls that never ran, and the caller's
 * deadline sent in the header. No governance plugins: the CLI is an operator's probe, it must see
 * what a provider answers, not a retried or broken-circuit result.
 */
export class NativeTransport implements CallTransport {
  readonly protocol = 'trellis';

  async unary(call: UnaryCall): Promise<CallResult> {
    const { target } = call;
    const registry = target.kind === 'registry' ? await target.registry.registry() : undefined;
    const client = new RpcClient({
      service: call.descriptors.definition(call.method.service),
      group: call.group,
      timeoutMs: call.timeoutMs,
      ...(target.kind === 'address'
        ? { addresses: target.addresses.map((a) => ({ host: a.host, port: a.port })) }
        : { registry: registry! }),
    });
    try {
      if (target.kind === 'registry') await this.waitForProviders(client, call);
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
    } finally {
      await client.close();
    }
  }

  /** No provider listed: the registry is down (exit 3), the service unknown or empty (exit 4). */
  private async waitForProviders(client: RpcClient, call: UnaryCall): Promise<void> {
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
