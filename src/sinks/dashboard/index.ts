/** `dashboardSink()`: a live page of the leading indicators, fed by the same windows as every other sink. */
export { dashboardSink, type DashboardSink, type DashboardSinkOptions, type DashboardThresholds } from './dashboard-sink.js';
export { DEFAULT_NAMES as DASHBOARD_DEFAULT_NAMES, type IndicatorNames } from './indicators.js';
