// The `express4` alias (Express 4) has no types of its own; its API is the same for what the tests use.
declare module 'express4' {
  import express from 'express';
  export default express;
}
