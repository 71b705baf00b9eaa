/** The exposition data model between the sink's state and prom-client: immutable once built for a scrape. */

export type FamilyType = 'counter' | 'gauge' | 'histogram';

export interface Sample {
  /** Set for histogram parts (`_bucket`, `_sum`, `_count`); absent means the family name. */
  readonly metricName?: string;
  /** Sample-specific labels (`le`); usually empty. */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * The series' labels. prom-client's own Histogram passes them this way: the Registry formats each such object
   * once and caches the string by identity, so a series' labels are escaped once in its lifetime, not per scrape.
   */
  readonly sharedLabels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  /** Counters: the text-format name, ending in `_total` (prom-client strips it for OpenMetrics). */
  readonly name: string;
  readonly help: string;
  readonly type: FamilyType;
  readonly samples: readonly Sample[];
}
