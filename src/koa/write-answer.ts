/** Writes the core's answer (status, headers, JSON body or none) through Koa's context. */
import type { ParameterizedContext } from 'koa';
import type { RouteAnswer } from '../core/request/route-answer.js';

export function writeKoaAnswer(ctx: ParameterizedContext, answer: RouteAnswer): void {
  ctx.status = answer.status;
  ctx.set(answer.headers);
  if (answer.body === undefined) {
    // `ctx.body = null` would turn a 200 into a 204: an empty string keeps the status.
    ctx.body = '';
    ctx.remove('Content-Type');
    return;
  }
  ctx.body = answer.body; // Koa serializes it as application/json; charset=utf-8
}
