package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/transport"
)

// ensureTopic creates the topic with explicit configs (partitions,
// replication factor, retention.ms, cleanup.policy=delete) unless it
// exists; an existing topic is left alone, with a warning when its
// partition count differs from the configured one.
func ensureTopic(ctx context.Context, tr *kafka.Transport, pc PublisherConfig, log *slog.Logger) error {
	c := &kafka.Client{Addr: kafka.TCP(pc.Brokers...), Transport: tr, Timeout: kafkaTimeout}
	res, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic:             pc.Topic,
		NumPartitions:     pc.Partitions,
		ReplicationFactor: pc.ReplicationFactor,
		ConfigEntries: []kafka.ConfigEntry{
			{ConfigName: "retention.ms", ConfigValue: strconv.FormatInt(int64(pc.RetentionHours)*3600*1000, 10)},
			{ConfigName: "cleanup.policy", ConfigValue: "delete"},
		},
	}}})
	if err != nil {
		// kafka-go's Client says "Broker Not Available" for a refused
		// password or certificate too: find out which it was.
		sec, _ := transport.KafkaSecurity(pc.TLS, pc.SASL) // validated
		if perr := sec.Probe(ctx, pc.Brokers, kafkaTimeout); errors.Is(perr, transport.ErrRefused) {
			err = perr
		}
		return fmt.Errorf("recorder: create topic %s: %w", pc.Topic, err)
	}
	switch terr := res.Errors[pc.Topic]; {
	case terr == nil:
		log.Info("created kafka topic", "partitions", pc.Partitions, "replication_factor", pc.ReplicationFactor, "retention_hours", pc.RetentionHours)
		return nil
	case !errors.Is(terr, kafka.TopicAlreadyExists):
		return fmt.Errorf("recorder: create topic %s: %w", pc.Topic, terr)
	}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{pc.Topic}})
	if err != nil {
		return fmt.Errorf("recorder: topic %s metadata: %w", pc.Topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != pc.Topic {
			continue
		}
		if t.Error != nil {
			return fmt.Errorf("recorder: topic %s metadata: %w", pc.Topic, t.Error)
		}
		if len(t.Partitions) != pc.Partitions {
			log.Warn("kafka topic exists with a different partition count; leaving it as is", "partitions", len(t.Partitions), "configured", pc.Partitions)
		}
	}
	checkTopicRetention(ctx, c, pc, log)
	return nil
}

// ErrTopicRetention is the error checkTopicRetention logs when an existing
// topic keeps data longer than configured.
var ErrTopicRetention = errors.New("recorder: kafka topic keeps events longer than kafka.retention_hours")

// checkTopicRetention warns, loudly and with the fix, when an existing
// topic keeps data longer than kafka.retention_hours: Kafka is a buffer
// and must not outlive the shortest retention class. A topic whose
// configuration cannot be read is reported too; neither stops the
// gateway, whose recordings are safe in the spool either way.
func checkTopicRetention(ctx context.Context, c *kafka.Client, pc PublisherConfig, log *slog.Logger) {
	want := int64(pc.RetentionHours) * 3600 * 1000
	res, err := c.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: pc.Topic, ConfigNames: []string{"retention.ms"},
	}}})
	if err == nil && len(res.Resources) == 1 && res.Resources[0].Error != nil {
		err = res.Resources[0].Error
	}
	if err != nil {
		log.Warn("cannot read the kafka topic's retention.ms; check it by hand", "topic", pc.Topic, "want_ms", want, "err", err)
		return
	}
	for _, r := range res.Resources {
		for _, e := range r.ConfigEntries {
			if e.ConfigName != "retention.ms" {
				continue
			}
			got, perr := strconv.ParseInt(e.ConfigValue, 10, 64)
			if perr == nil && got >= 0 && got <= want {
				return
			}
			log.Error(ErrTopicRetention.Error()+"; shorten it now", "topic", pc.Topic, "retention_ms", e.ConfigValue, "want_ms", want,
				"fix", fmt.Sprintf("kafka-configs.sh --bootstrap-server BROKER --alter --entity-type topics --entity-name %s --add-config retention.ms=%d", pc.Topic, want))
			return
		}
	}
}

// EnsureTopic creates the event topic as Publish would (explicit configs)
// unless it exists. Call it before starting consumers on a fresh cluster
// so that they find the topic's partitions at their first group join.
func EnsureTopic(ctx context.Context, pc PublisherConfig, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	pc = pc.withDefaults()
	if err := pc.validate(); err != nil {
		return err
	}
	tr := pc.transport(0)
	defer tr.CloseIdleConnections()
	return ensureTopic(ctx, tr, pc, log)
}
