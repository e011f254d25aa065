import { request } from 'node:http';
import t from 'tap';
import { serveConsole, type ConsoleServerOptions } from '../src/index.js';

/**
 * serveConsole() from JavaScript, where the types do not stop a caller from leaving `host` out: it
 * must listen where node:net does by default and give a usable URL — its listen callback once read
 * `options.host.includes(...)`, and the TypeError, thrown in that callback, ended the process.
 */
t.test('serveConsole without a host listens on node:net\'s default address and names a URL that answers', async (t) => {
  const options = { port: 0, token: 'read-token', writeToken: undefined, routes: [{ method: 'GET', path: '/api/ping', handler: () => ({ pong: true }) }] } as unknown as ConsoleServerOptions;
  const server = await serveConsole(options);
  t.teardown(() => server.close());
  t.match(server.url, /^http:\/\/(\[::1\]|127\.0\.0\.1):\d+\/$/, `a loopback URL: ${server.url}`);
  const status = await new Promise<number>((resolve, reject) => {
    request(`${server.url}api/ping`, { headers: { authorization: 'Bearer read-token' } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).on('error', reject).end();
  });
  t.equal(status, 200, 'the URL it gave serves the API');
});
