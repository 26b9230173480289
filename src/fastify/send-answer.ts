/** Sends the core's answer (status, headers, JSON body or none) through Fastify's reply. */
import type { FastifyReply } from 'fastify';
import type { RouteAnswer } from '../core/request/route-answer.js';

export function sendAnswer(reply: FastifyReply, answer: RouteAnswer): FastifyReply {
  reply.code(answer.status).headers(answer.headers);
  if (answer.body === undefined) return reply.send();
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(answer.body));
}
