// matrix-js-sdk 43 uses Promise.withResolvers (Node 22+); Node 20 needs this small polyfill.
if (!("withResolvers" in Promise)) {
  Object.defineProperty(Promise, "withResolvers", {
    value<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}
