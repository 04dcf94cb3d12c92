/**
 * The WebSocket fast path for subscriptions: memory per subscription held, not per event.
 *
 * graphql-ws serves each subscription with an `onMessage` call that stays suspended in a
 * `for await` for the subscription's whole life (the message, the execution arguments, three
 * emit closures, the async frame, one pending promise): ~2 KB per subscription, 20 per
 * socket. This path serves a `subscribe` message itself when, and only when, it can do so
 * exactly as graphql-ws + graphql-js would:
 *
 * - The message is handed to the SAME hooks graphql-ws calls (`onSubscribe`: rate, caps, the
 *   request pipeline's size/depth/limits/validation, the auth lookup; `onNext`/`onError`:
 *   masking; `onComplete`), and kept in the SAME `ctx.subscriptions` (the per-socket cap counts
 *   it; a client `complete` and the socket's close reach it through graphql-ws, which calls its
 *   `return()`). Duplicate ids, unacknowledged sockets and malformed messages are left to
 *   graphql-ws, which closes as it always does.
 * - The operation must have a plan: a subscription whose selection below the root field uses
 *   only object and leaf types with graphql-js's default resolver (no list, no abstract type,
 *   no isTypeOf). Fields are collected as graphql-js collects them (aliases, fragments, type
 *   conditions, @skip/@include with the subscription's variables). The plan is made once per
 *   distinct document (cached by the document object, which the pipeline's document store
 *   reuses) and per distinct set of variable values.
 * - The source event stream is created by graphql-js's own `createSourceEventStream` (argument
 *   coercion, the resolver's `subscribe`, `@authenticated`, their errors), and must be a
 *   {@link PushableSource} (createSessionEventResolvers' `sessionEvents`): it then pushes each
 *   event here; what the subscription holds is one small record.
 * - Each event is resolved with the root field's own `resolve` (graphql-js calls it the same
 *   way) and completed by the plan with each leaf type's own `serialize`. Anything the plan
 *   cannot complete exactly (a null for a non-null field, a serialize error, a function value,
 *   an asynchronous result) is executed by graphql-js's `execute` instead, as graphql-ws would:
 *   the output is the same either way (test/unit/subscription-fast-path.test.ts compares bytes).
 *
 * Anything else — queries, mutations, an operation without a plan, another schema's source —
 * goes to graphql-ws unchanged: the hooks already ran once, so graphql-ws gets their result
 * back instead of running them twice (no second rate token, no second lookup).
 *
 * Slow clients: a subscription with more than `maxQueued` results written to the socket but
 * not yet flushed ends with the error the pull path gives (the same rule as the source's
 * queue), so a reader that stops reading cannot make the server buffer without bound.
 */
import {
  GraphQLError,
  Kind,
  createSourceEventStream,
  defaultFieldResolver,
  execute,
  getArgumentValues,
  getDirectiveValues,
  getOperationAST,
  getVariableValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isAbstractType,
  isLeafType,
  isNonNullType,
  isObjectType,
  typeFromAST,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FormattedExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLFormattedError,
  type GraphQLLeafType,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type InlineFragmentNode,
  type FragmentSpreadNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { areGraphQLErrors, MessageType, validateMessage, type Context as WsContext, type SubscribePayload } from 'graphql-ws';
import { isPushableSource, type EventSink, type PushableSource } from './session-subscription.js';

/** The graphql-ws hooks the live endpoint defines; this path calls the same ones. */
export interface FastPathHooks<E> {
  onSubscribe(ctx: WsContext<Record<string, unknown>, E>, id: string, payload: SubscribePayload): Promise<ExecutionArgs | readonly GraphQLError[] | void>;
  onNext(ctx: WsContext<Record<string, unknown>, E>, id: string, payload: SubscribePayload, args: ExecutionArgs, result: ExecutionResult): FormattedExecutionResult | void;
  onError(ctx: WsContext<Record<string, unknown>, E>, id: string, payload: SubscribePayload, errors: readonly GraphQLError[]): readonly GraphQLFormattedError[] | void;
  onComplete(ctx: WsContext<Record<string, unknown>, E>, id: string, payload: SubscribePayload): void;
}

/** Options of {@link createSubscriptionFastPath}. */
export interface SubscriptionFastPathOptions<E> {
  schema: GraphQLSchema;
  hooks: FastPathHooks<E>;
  /** Writes one message on the socket; resolves once written (ws's send callback). */
  send(ctx: WsContext<Record<string, unknown>, E>, data: string): Promise<void>;
  /** Results written but not yet flushed per subscription before it ends with an error. Default 100 (the source's own bound). */
  maxQueued?: number;
  /** A hook threw: what graphql-ws's caller does when its message handler rejects (log, close 4500). */
  onInternalError?: (ctx: WsContext<Record<string, unknown>, E>, error: unknown) => void;
}

/** The fast path of one live endpoint. */
export interface SubscriptionFastPath<E> {
  /**
   * Takes a text message (already past the pipeline's message check) if it is a `subscribe`
   * this path may serve; then `forward` is called only if it turns out to have no plan.
   * False: give it to graphql-ws as usual.
   */
  take(ctx: WsContext<Record<string, unknown>, E>, text: string, forward: (text: string) => void): boolean;
  /** For graphql-ws's `onSubscribe`: what the hooks already answered for a message handed over (once). */
  handedOver(ctx: WsContext<Record<string, unknown>, E>, id: string): ExecutionArgs | undefined;
  /** For graphql-ws's `subscribe`: the source already created for args handed over (once). */
  sourceFor(args: ExecutionArgs): AsyncIterator<unknown> | undefined;
}

type Ctx = WsContext<Record<string, unknown>, unknown>;

/** One selected field, ready to complete: how graphql-js would complete it, with nothing left to look up. */
interface PlannedField {
  readonly key: string;
  readonly name: string;
  /** Set for `__typename`: the parent type's name. */
  readonly typename: string | undefined;
  readonly nonNull: boolean;
  readonly leaf: GraphQLLeafType | undefined;
  readonly object: PlannedField[] | undefined;
}

/** A subscription operation with one set of variable values, planned. */
export interface Plan {
  readonly document: DocumentNode;
  readonly operation: OperationDefinitionNode;
  readonly fragments: Record<string, FragmentDefinitionNode>;
  readonly rootKey: string;
  readonly rootField: GraphQLField<unknown, unknown>;
  readonly rootNodes: readonly FieldNode[];
  readonly rootArgs: Record<string, unknown>;
  readonly rootNonNull: boolean;
  readonly fields: PlannedField[];
  readonly variableValues: Record<string, unknown> | undefined;
  /** What the hooks get as the payload (they do not read it): one per plan, not one per subscription. */
  readonly payload: SubscribePayload;
}

/** Thrown inside the plan's completion: graphql-js's execute decides this event instead. */
const NOT_PLANNED = Symbol('not planned');

/**
 * Plans kept per document for distinct operation names and variable values, and the longest
 * key kept: past either, a plan is made for the subscription and held by it alone (the client
 * chooses both, up to the message size: a cache without these bounds would keep what it sent).
 */
const MAX_PLANS_PER_DOCUMENT = 16;
const MAX_PLAN_KEY_LENGTH = 512;

/** Whether a selection is included under @skip/@include, as graphql-js decides it. */
function included(variables: Record<string, unknown>, node: FieldNode | InlineFragmentNode | FragmentSpreadNode): boolean {
  if (getDirectiveValues(GraphQLSkipDirective, node, variables)?.if === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if !== false;
}

function conditionMatches(schema: GraphQLSchema, node: FragmentDefinitionNode | InlineFragmentNode, type: GraphQLObjectType): boolean {
  if (!node.typeCondition) return true;
  const condition = typeFromAST(schema, node.typeCondition);
  if (condition === type) return true;
  return condition !== undefined && isAbstractType(condition) && schema.isSubType(condition, type);
}

/** graphql-js's collectFields (graphql 16, execution/collectFields): response key → field nodes, in first-seen order. */
function collect(
  schema: GraphQLSchema,
  fragments: Record<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  type: GraphQLObjectType,
  selectionSet: SelectionSetNode,
  fields: Map<string, FieldNode[]>,
  visited: Set<string>,
): void {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (!included(variables, selection)) continue;
      const key = selection.alias ? selection.alias.value : selection.name.value;
      const nodes = fields.get(key);
      if (nodes) nodes.push(selection);
      else fields.set(key, [selection]);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      if (!included(variables, selection) || !conditionMatches(schema, selection, type)) continue;
      collect(schema, fragments, variables, type, selection.selectionSet, fields, visited);
    } else {
      const name = selection.name.value;
      if (visited.has(name) || !included(variables, selection)) continue;
      visited.add(name);
      const fragment = fragments[name];
      if (!fragment || !conditionMatches(schema, fragment, type)) continue;
      collect(schema, fragments, variables, type, fragment.selectionSet, fields, visited);
    }
  }
}

/** The plan of an object's selection, or undefined when graphql-js would do anything the plan does not. */
function planObject(
  schema: GraphQLSchema,
  fragments: Record<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
  type: GraphQLObjectType,
  nodes: readonly FieldNode[],
): PlannedField[] | undefined {
  if (type.isTypeOf) return undefined;
  const collected = new Map<string, FieldNode[]>();
  const visited = new Set<string>();
  for (const node of nodes) if (node.selectionSet) collect(schema, fragments, variables, type, node.selectionSet, collected, visited);
  const planned: PlannedField[] = [];
  for (const [key, fieldNodes] of collected) {
    const name = (fieldNodes[0] as FieldNode).name.value;
    if (name === '__typename') {
      planned.push({ key, name, typename: type.name, nonNull: true, leaf: undefined, object: undefined });
      continue;
    }
    const field = type.getFields()[name];
    // A resolver of its own (or a directive's wrapper) may do anything: graphql-js runs it.
    if (!field || field.resolve) return undefined;
    const nonNull = isNonNullType(field.type);
    const named = nonNull ? (field.type as { ofType: unknown }).ofType : field.type;
    if (isLeafType(named)) planned.push({ key, name, typename: undefined, nonNull, leaf: named, object: undefined });
    else if (isObjectType(named)) {
      const object = planObject(schema, fragments, variables, named, fieldNodes);
      if (!object) return undefined;
      planned.push({ key, name, typename: undefined, nonNull, leaf: undefined, object });
    } else return undefined;
  }
  return planned;
}

/** Plans `operationName` of `document` with `rawVariables`; undefined when it has no plan (graphql-ws serves it). */
export function planSubscription(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, rawVariables: Record<string, unknown> | null | undefined): Plan | undefined {
  const operation = getOperationAST(document, operationName);
  const rootType = schema.getSubscriptionType();
  if (!operation || operation.operation !== 'subscription' || !rootType) return undefined;
  let variables: Record<string, unknown> = {};
  if (operation.variableDefinitions?.length) {
    const coerced = getVariableValues(schema, operation.variableDefinitions, rawVariables ?? {}, { maxErrors: 1 });
    if (coerced.errors) return undefined;
    variables = coerced.coerced;
  }
  const fragments: Record<string, FragmentDefinitionNode> = Object.create(null) as Record<string, FragmentDefinitionNode>;
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
  const roots = new Map<string, FieldNode[]>();
  collect(schema, fragments, variables, rootType, operation.selectionSet, roots, new Set());
  if (roots.size !== 1) return undefined;
  const [rootKey, rootNodes] = [...roots][0] as [string, FieldNode[]];
  const rootField = rootType.getFields()[(rootNodes[0] as FieldNode).name.value];
  if (!rootField) return undefined;
  const nonNull = isNonNullType(rootField.type);
  const named = nonNull ? (rootField.type as { ofType: unknown }).ofType : rootField.type;
  if (!isObjectType(named)) return undefined;
  const fields = planObject(schema, fragments, variables, named, rootNodes);
  if (!fields) return undefined;
  let rootArgs: Record<string, unknown>;
  try {
    rootArgs = getArgumentValues(rootField, rootNodes[0] as FieldNode, variables);
  } catch {
    return undefined;
  }
  const query = document.loc?.source.body ?? '';
  return {
    document,
    operation,
    fragments,
    rootKey,
    rootField,
    rootNodes,
    rootArgs,
    rootNonNull: nonNull,
    fields,
    variableValues: rawVariables ?? undefined,
    payload: { query, ...(operationName ? { operationName } : {}), ...(rawVariables ? { variables: rawVariables } : {}) },
  };
}

function completeObject(fields: readonly PlannedField[], source: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    if (field.typename !== undefined) {
      out[field.key] = field.typename;
      continue;
    }
    // graphql-js's default resolver: a property of an object; a function there would be called.
    const value = typeof source === 'object' && source !== null ? (source as Record<string, unknown>)[field.name] : undefined;
    if (typeof value === 'function') throw NOT_PLANNED;
    if (value === null || value === undefined) {
      if (field.nonNull) throw NOT_PLANNED;
      out[field.key] = null;
    } else if (field.leaf) {
      const serialized: unknown = field.leaf.serialize(value);
      if (serialized === null || serialized === undefined) throw NOT_PLANNED;
      out[field.key] = serialized;
    } else out[field.key] = completeObject(field.object as PlannedField[], value);
  }
  return out;
}

/**
 * The `data` graphql-js's execute would give for one event, or undefined when the plan cannot
 * tell it exactly (then execute runs). Calls the root field's resolve once, as execute would.
 */
export function completeEvent(schema: GraphQLSchema, plan: Plan, event: unknown, contextValue: unknown): Record<string, unknown> | undefined {
  const rootType = schema.getSubscriptionType() as GraphQLObjectType;
  const info: GraphQLResolveInfo = {
    fieldName: plan.rootField.name,
    fieldNodes: plan.rootNodes,
    returnType: plan.rootField.type,
    parentType: rootType,
    path: { prev: undefined, key: plan.rootKey, typename: rootType.name },
    schema,
    fragments: plan.fragments,
    rootValue: event,
    operation: plan.operation,
    variableValues: plan.variableValues ?? {},
  };
  try {
    const resolved: unknown = (plan.rootField.resolve ?? defaultFieldResolver)(event, plan.rootArgs, contextValue, info);
    if (resolved instanceof Error || (typeof resolved === 'object' && resolved !== null && typeof (resolved as { then?: unknown }).then === 'function')) return undefined;
    if (resolved === null || resolved === undefined) {
      if (plan.rootNonNull) return undefined;
      return { [plan.rootKey]: null };
    }
    return { [plan.rootKey]: completeObject(plan.fields, resolved) };
  } catch {
    // A resolver's throw, a serialize error, an unplanned value: execute reports it as graphql-js does.
    return undefined;
  }
}

/**
 * One subscription served by the fast path: what it holds for its whole life. Registered in
 * graphql-ws's `ctx.subscriptions` (it has `return`: graphql-ws ends it on complete and close).
 */
class FastSubscription implements EventSink<unknown>, AsyncIterable<never> {
  /** Results written, not yet flushed. */
  private unflushed = 0;
  private done = false;
  constructor(
    private readonly path: FastPath<unknown>,
    private readonly ctx: Ctx,
    private readonly id: string,
    private readonly plan: Plan,
    private readonly contextValue: unknown,
    private readonly source: PushableSource<unknown>,
  ) {}

  push(event: unknown): void {
    if (this.done) return;
    if (this.unflushed >= this.path.maxQueued) {
      this.fail(new Error(`More than ${this.path.maxQueued} session events were waiting for this subscriber: subscription ended`));
      return;
    }
    const data = completeEvent(this.path.schema, this.plan, event, this.contextValue);
    if (data) return this.write({ data });
    const result = execute(this.executionArgs(event));
    // execute is synchronous for the schemas this path plans (no async resolver below the root),
    // but a root resolve may return a promise: its result then goes out when it settles.
    if (result instanceof Promise) result.then((value) => this.write(value), (error: unknown) => this.fail(error instanceof Error ? error : new Error(String(error))));
    else this.write(result);
  }

  /** As graphql-ws's emit.next: onNext's answer, or the result with its errors as JSON. */
  private write(result: ExecutionResult): void {
    if (this.done) return;
    const { errors, ...withoutErrors } = result;
    const payload = this.path.hooks.onNext(this.ctx, this.id, this.plan.payload, this.executionArgs(undefined), result) || {
      ...withoutErrors,
      ...(errors ? { errors: errors.map((e) => e.toJSON()) } : {}),
    };
    this.unflushed += 1;
    this.path.send(this.ctx, JSON.stringify({ id: this.id, type: MessageType.Next, payload })).then(
      () => {
        this.unflushed -= 1;
      },
      () => this.end(),
    );
  }

  private executionArgs(rootValue: unknown): ExecutionArgs {
    const { plan } = this;
    return {
      schema: this.path.schema,
      document: plan.document,
      rootValue,
      contextValue: this.contextValue,
      ...(plan.operation.name ? { operationName: plan.operation.name.value } : {}),
      ...(plan.variableValues ? { variableValues: plan.variableValues } : {}),
    };
  }

  /** As graphql-ws when the source throws: the error (through onError), out of ctx.subscriptions, onComplete. */
  fail(error: Error): void {
    if (this.done) return;
    const { ctx, id } = this;
    this.end();
    if (ctx.subscriptions[id] !== this) return;
    delete ctx.subscriptions[id];
    const errors = [new GraphQLError(error.message, { originalError: error })];
    const payload = this.path.hooks.onError(ctx, id, this.plan.payload, errors) || errors.map((e) => e.toJSON());
    this.path.send(ctx, JSON.stringify({ id, type: MessageType.Error, payload })).catch(() => {});
    this.path.hooks.onComplete(ctx, id, this.plan.payload);
  }

  private end(): void {
    if (this.done) return;
    this.done = true;
    this.source.return().catch(() => {});
  }

  /** graphql-ws's complete (the client's) and close: the source leaves the fan-out. */
  return(): Promise<IteratorResult<never>> {
    const wasDone = this.done;
    this.end();
    if (!wasDone) this.path.hooks.onComplete(this.ctx, this.id, this.plan.payload);
    return Promise.resolve({ value: undefined as never, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<never> {
    // Never pulled: graphql-ws only checks that it is an async generator (to call return()).
    return { next: () => Promise.resolve({ value: undefined as never, done: true }) };
  }
}

class FastPath<E> implements SubscriptionFastPath<E> {
  readonly schema: GraphQLSchema;
  readonly hooks: FastPathHooks<unknown>;
  readonly send: (ctx: Ctx, data: string) => Promise<void>;
  readonly maxQueued: number;
  private readonly onInternalError: ((ctx: Ctx, error: unknown) => void) | undefined;
  /** Plans by document, then by operation name and variable values (null: none). */
  private readonly plans = new WeakMap<DocumentNode, Map<string, Plan | null>>();
  /** The message being handed over to graphql-ws, for the synchronous call of onSubscribe it makes. */
  private handing: { ctx: Ctx; id: string; args: ExecutionArgs } | undefined = undefined;
  private readonly sources = new WeakMap<ExecutionArgs, AsyncIterator<unknown>>();

  constructor(options: SubscriptionFastPathOptions<E>) {
    this.schema = options.schema;
    this.hooks = options.hooks as unknown as FastPathHooks<unknown>;
    this.send = options.send as unknown as (ctx: Ctx, data: string) => Promise<void>;
    this.maxQueued = options.maxQueued ?? 100;
    this.onInternalError = options.onInternalError as ((ctx: Ctx, error: unknown) => void) | undefined;
  }

  take(wsCtx: WsContext<Record<string, unknown>, E>, text: string, forward: (text: string) => void): boolean {
    const ctx = wsCtx as unknown as Ctx;
    // Cheap refusals first: most messages are not subscribes.
    if (!ctx.acknowledged || !text.includes('"subscribe"')) return false;
    let message: { id: string; type: string; payload: SubscribePayload };
    try {
      message = validateMessage(JSON.parse(text)) as typeof message;
    } catch {
      return false;
    }
    if (message.type !== MessageType.Subscribe || message.id in ctx.subscriptions) return false;
    const { id, payload } = message;
    // As graphql-ws does on receipt: the id is taken (a duplicate is refused 4409, the cap counts it).
    ctx.subscriptions[id] = null;
    this.serve(ctx, id, payload, text, forward).catch((error: unknown) => {
      if (ctx.subscriptions[id] === null) delete ctx.subscriptions[id];
      this.onInternalError?.(ctx, error);
    });
    return true;
  }

  handedOver(wsCtx: WsContext<Record<string, unknown>, E>, id: string): ExecutionArgs | undefined {
    const handing = this.handing;
    if (!handing || handing.ctx !== (wsCtx as unknown as Ctx) || handing.id !== id) return undefined;
    this.handing = undefined;
    return handing.args;
  }

  sourceFor(args: ExecutionArgs): AsyncIterator<unknown> | undefined {
    const source = this.sources.get(args);
    this.sources.delete(args);
    return source;
  }

  private planFor(args: ExecutionArgs): Plan | undefined {
    let byOperation = this.plans.get(args.document);
    if (!byOperation) this.plans.set(args.document, (byOperation = new Map()));
    const variables = args.variableValues ?? undefined;
    const key = `${args.operationName ?? ''}\n${variables ? JSON.stringify(variables) : ''}`;
    const known = byOperation.get(key);
    if (known !== undefined) return known ?? undefined;
    const plan = planSubscription(this.schema, args.document, args.operationName, variables);
    if (byOperation.size < MAX_PLANS_PER_DOCUMENT && key.length <= MAX_PLAN_KEY_LENGTH) byOperation.set(key, plan ?? null);
    return plan;
  }

  /** Gives the message to graphql-ws with the hooks' answer (it calls onSubscribe synchronously on receipt). */
  private handOver(ctx: Ctx, id: string, args: ExecutionArgs, text: string, forward: (text: string) => void): void {
    delete ctx.subscriptions[id];
    this.handing = { ctx, id, args };
    try {
      forward(text);
    } finally {
      this.handing = undefined;
    }
  }

  private async serve(ctx: Ctx, id: string, payload: SubscribePayload, text: string, forward: (text: string) => void): Promise<void> {
    const answer = await this.hooks.onSubscribe(ctx, id, payload);
    if (areGraphQLErrors(answer)) {
      // graphql-ws: the errors (through onError) if the client still waits; no onComplete.
      if (id in ctx.subscriptions) {
        delete ctx.subscriptions[id];
        const formatted = this.hooks.onError(ctx, id, payload, answer) || answer.map((e) => e.toJSON());
        await this.send(ctx, JSON.stringify({ id, type: MessageType.Error, payload: formatted }));
      }
      return;
    }
    if (!answer || Array.isArray(answer)) return this.handOver(ctx, id, answer as unknown as ExecutionArgs, text, forward);
    const args = answer as ExecutionArgs;
    if (!(id in ctx.subscriptions)) {
      // Completed by the client (or the socket closed) while the hooks ran. graphql-ws would still
      // run a query or mutation, answer nothing, and call onComplete; a subscription it would end at once.
      if (getOperationAST(args.document, args.operationName)?.operation !== 'subscription') await execute(args);
      this.hooks.onComplete(ctx, id, payload);
      return;
    }
    const plan = this.planFor(args);
    // Not ours to serve: graphql-ws does what it always does.
    if (!plan) return this.handOver(ctx, id, args, text, forward);
    const stream = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in stream)) {
      // graphql-js's errors (variables, the resolver's subscribe): next with them, then complete, as graphql-ws.
      const result = stream as ExecutionResult;
      if (id in ctx.subscriptions) {
        const { errors, ...withoutErrors } = result;
        const next = this.hooks.onNext(ctx, id, payload, args, result) || { ...withoutErrors, ...(errors ? { errors: errors.map((e) => e.toJSON()) } : {}) };
        await this.send(ctx, JSON.stringify({ id, type: MessageType.Next, payload: next }));
      }
      const notify = id in ctx.subscriptions;
      delete ctx.subscriptions[id];
      this.hooks.onComplete(ctx, id, payload);
      if (notify) await this.send(ctx, JSON.stringify({ id, type: MessageType.Complete }));
      return;
    }
    const source = (stream as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    if (!isPushableSource(source)) {
      // Another schema's source: graphql-ws pulls it (its subscribe hook gets this very source).
      this.sources.set(args, source);
      return this.handOver(ctx, id, args, text, forward);
    }
    if (!(id in ctx.subscriptions)) {
      await source.return();
      this.hooks.onComplete(ctx, id, payload);
      return;
    }
    const subscription = new FastSubscription(this as unknown as FastPath<unknown>, ctx, id, plan, args.contextValue, source);
    ctx.subscriptions[id] = subscription as unknown as AsyncGenerator<ExecutionResult>;
    source.attach(subscription);
  }
}

/**
 * The fast path for `schema`; see the module comment for what it serves and what it leaves to
 * graphql-ws. Undefined when the schema has no subscription type (nothing to serve).
 */
export function createSubscriptionFastPath<E>(options: SubscriptionFastPathOptions<E>): SubscriptionFastPath<E> | undefined {
  if (!options.schema.getSubscriptionType()) return undefined;
  return new FastPath(options);
}
