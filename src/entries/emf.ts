/** `scalesignal/emf`: CloudWatch Embedded Metric Format documents to stdout or the CloudWatch agent. */
export { emfSink, type EmfSinkOptions } from '../sinks/emf.js';
