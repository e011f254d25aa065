import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';

/**
 * etcd's "require leader" (clientv3's `WithRequireLeader`): the gRPC metadata `hasleader: true` makes a
 * member refuse a request at once with "etcdserver: no leader" when it has no leader, and cancel a watch
 * stream it holds once it has been without one for three election timeouts. Without it, a member cut off
 * from its peers keeps a consumer's watch open and silent for as long as the partition lasts, and
 * requests to it wait out their deadlines. Sent on every request, so that every failure is fast and
 * moves the registry to another member (EndpointPin).
 */
export const requireLeader: Interceptor = (options, nextCall) =>
  new InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      // A copy: etcd3 hands the same metadata object to every call once it has an auth token.
      const withLeader = metadata.clone();
      withLeader.set('hasleader', 'true');
      next(withLeader, listener);
    },
  });
