/**
 * The conformance scenarios as a Cloudflare Worker (workerd, through Miniflare): the driver's
 * input is the request's JSON body, the answers are the response's. Bundled by run.ts.
 */
import { type ConformanceInput, runConformance } from './conformance.js';

export default {
  async fetch(request: Request): Promise<Response> {
    const input = (await request.json()) as ConformanceInput;
    return Response.json(await runConformance(input));
  },
};
