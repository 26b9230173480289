/**
 * The answer of one of the library's POST endpoints (logout, back-channel logout, security
 * events), for adapters that hand unanswered errors to their framework by throwing (Fastify, Koa,
 * Hono, fetch): 405 for other methods, the core's answer, or the core's answer to an error met on
 * the way (reading the body); what the core does not answer (a misconfiguration) is rethrown.
 */
import { type EndpointPolicy, postOnly, type RouteAnswer } from '../core/request/route-answer.js';

export async function answerPost(
  policy: EndpointPolicy,
  method: string | undefined,
  handle: () => Promise<RouteAnswer>,
): Promise<RouteAnswer> {
  const refused = postOnly({ method }, policy.errorBody);
  if (refused !== undefined) return refused;
  try {
    return await handle();
  } catch (error) {
    const answer = policy.answerError(error);
    if (answer === undefined) throw error;
    return answer;
  }
}
