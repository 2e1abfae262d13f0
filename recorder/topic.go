package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
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
	return nil
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
	tr := &kafka.Transport{DialTimeout: 5 * time.Second, ClientID: "foureyes-recorder"}
	defer tr.CloseIdleConnections()
	return ensureTopic(ctx, tr, pc, log)
}
