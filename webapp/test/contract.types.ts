/**
 * Type-level test, checked by `npm run typecheck` (not run by jest): every route's response
 * type equals the one `src/api/contract.ts` declares, and no route answers outside the
 * contract. Change a route's response, or the contract, without the other, and this file
 * stops compiling, naming the route.
 */
import type { ApiContract } from '../src/api/contract';
import type { editorEndpoints, signInEndpoint } from '../src/routes/editorApi';
import type { ResponsesOf } from '../src/routes/endpoints';
import type { pipelineEndpoints } from '../src/routes/pipelineApi';

/** True only when A and B are the same type (not merely assignable one way). */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Fails to compile naming the offending routes when T is not empty. */
type ExpectNone<T extends never> = T;

type Routes = ResponsesOf<ReturnType<typeof signInEndpoint>> &
  ResponsesOf<ReturnType<typeof editorEndpoints>> &
  ResponsesOf<ReturnType<typeof pipelineEndpoints>>;

/** The routes whose response differs from the contract's (or that are missing). */
type Disagreeing = {
  [K in keyof ApiContract]: K extends keyof Routes
    ? Equal<Routes[K], ApiContract[K]['response']> extends true
      ? never
      : K
    : K;
}[keyof ApiContract];

export type EveryRouteAnswersAsTheContractSays = ExpectNone<Disagreeing>;
export type NoRouteOutsideTheContract = ExpectNone<Exclude<keyof Routes, keyof ApiContract>>;
