/**
 * graphql-js's `subscribe` without its mapAsyncIterator: the source stream (the resolver's
 * `subscribe`, after the same argument coercion and errors) mapped by a plain object whose
 * `next` chains one `then` — no async function suspended per waiting subscription (~1.4 KB
 * each). Each event runs `execute` with the event as root value, as graphql-js does.
 */
import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';

/** graphql-ws's `subscribe`; `created`: the source the fast path already made for these args before handing them over. */
export async function lightSubscribe(args: ExecutionArgs, created?: AsyncIterator<unknown>): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  if (created) return new MappedEvents(args, created);
  const stream = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in stream)) return stream as ExecutionResult;
  return new MappedEvents(args, (stream as AsyncIterable<unknown>)[Symbol.asyncIterator]() as AsyncIterator<unknown>);
}

/** A class, not an object of closures: its methods live once on the prototype, not once per subscription. */
class MappedEvents implements AsyncIterableIterator<ExecutionResult> {
  constructor(
    private readonly args: ExecutionArgs,
    private readonly source: AsyncIterator<unknown>,
  ) {}
  private toResult(step: IteratorResult<unknown>): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> {
    if (step.done) return step;
    const result = execute({ ...this.args, rootValue: step.value });
    return result instanceof Promise ? result.then((value) => ({ value, done: false })) : { value: result, done: false };
  }
  next(): Promise<IteratorResult<ExecutionResult>> {
    return this.source.next().then((step) => this.toResult(step));
  }
  return(): Promise<IteratorResult<ExecutionResult>> {
    return this.source.return ? this.source.return().then((step) => this.toResult(step)) : Promise.resolve({ value: undefined, done: true });
  }
  throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    return this.source.throw ? this.source.throw(error).then((step) => this.toResult(step)) : Promise.reject(error);
  }
  [Symbol.asyncIterator](): this {
    return this;
  }
}
