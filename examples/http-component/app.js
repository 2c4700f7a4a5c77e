// A wasi:http handler in JavaScript, made a component by componentize-js
// (`make` builds app.component.wasm from it when scripts/deps.sh installed
// the tool). The same handler serves the end-to-end tests
// (tests/e2e/http_components.sh).
//
//   GET  /              a greeting
//   POST /echo          the body back, in pieces; ?status=N sets the status
//   GET  /headers       the request's headers, one a line; answers with X-Multi twice
//   GET  /fetch?url=U   fetches U (outbound wasi:http, as permissions.net allows)
//   GET  /throw         throws (the runtime answers 500)
addEventListener('fetch', (event) => event.respondWith(handle(event.request)));

async function handle(request) {
  const url = new URL(request.url);
  const route = url.pathname.replace(/^\/[^/]*/, '') || '/';
  if (route === '/echo') {
    const status = Number(url.searchParams.get('status') || 200);
    const body = new Uint8Array(await request.arrayBuffer());
    // A stream of 3 pieces: the response body is written as it comes.
    const third = Math.ceil(body.length / 3);
    const pieces = new ReadableStream({
      start(controller) {
        for (let i = 0; i < body.length; i += third || 1) controller.enqueue(body.slice(i, i + third));
        controller.close();
      },
    });
    return new Response(pieces, {
      status,
      headers: {'content-type': request.headers.get('content-type') || 'application/octet-stream',
                'x-echo-length': String(body.length)},
    });
  }
  if (route === '/headers') {
    const lines = [];
    for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
    const headers = new Headers({'content-type': 'text/plain'});
    headers.append('x-multi', 'one');
    headers.append('x-multi', 'two');
    return new Response(`${request.method} ${url.pathname}${url.search}\n${lines.join('\n')}\n`, {headers});
  }
  if (route === '/fetch') {
    try {
      const upstream = await fetch(url.searchParams.get('url'));
      return new Response(`upstream ${upstream.status}: ${await upstream.text()}`);
    } catch (e) {
      return new Response(`fetch failed: ${e}\n`, {status: 502});
    }
  }
  if (route === '/throw') throw new Error('thrown on purpose');
  return new Response(`Hello from JavaScript in a component, ${request.method} ${url.pathname}\n`,
                      {headers: {'content-type': 'text/plain'}});
}
