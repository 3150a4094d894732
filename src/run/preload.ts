/**
 * Loaded into Node agents by `faultgate run` (`NODE_OPTIONS=--import <this file>`): installs
 * undici's EnvHttpProxyAgent as the global dispatcher, so `fetch` honours HTTP_PROXY,
 * HTTPS_PROXY and NO_PROXY on Node 20, where `NODE_USE_ENV_PROXY=1` does nothing (Node reads
 * it from 22.21 and 24). undici is resolved from faultgate's own dependencies, not the agent's.
 * Nothing here may break the agent: any problem is one line on stderr, then the agent runs.
 */
try {
  if (
    process.env.HTTP_PROXY ||
    process.env.HTTPS_PROXY ||
    process.env.http_proxy ||
    process.env.https_proxy
  ) {
    const { EnvHttpProxyAgent, setGlobalDispatcher } = await import('undici');
    setGlobalDispatcher(new EnvHttpProxyAgent());
  }
} catch (err) {
  process.stderr.write(`faultgate run: could not route fetch through the proxy: ${(err as Error).message}\n`);
}
export {};
